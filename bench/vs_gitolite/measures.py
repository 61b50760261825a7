"""The five measures of issue 6. Every measure alternates the systems run by run.

Each function returns result rows; times are wall-clock seconds of the whole command as
an admin or a client would run it (process start-up included: that is what they wait for).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from vs_gitolite.confgen import EXPECTED_ALLOWED, Shape, access_queries, conf_text
from vs_gitolite.results import Row, median, target_for
from vs_gitolite.sides import INPROC_COUNT, NOOP_COUNT, Side
from vs_gitolite.sshd import Client


def _order(items: list, rep: int) -> list:
    """Rotate which system goes first, so drift and caches hit them all alike."""
    k = rep % len(items)
    return items[k:] + items[:k]


def _row(
    measure: str,
    size: int | None,
    samples: dict[str, list[float]],
    big: int,
    note: str = "",
    floor: list[float] | None = None,
) -> Row:
    reps = min(len(v) for v in samples.values()) if samples else 0
    all_samples = dict(samples)
    if floor is not None:
        all_samples["floor"] = floor
    return Row(
        measure,
        size,
        median(samples.get("gitolite", [])),
        median(samples.get("ours", [])),
        median(floor) if floor is not None else None,
        target=target_for(measure, size, big),
        reps=reps,
        note=note,
        samples={k: [round(x, 6) for x in v] for k, v in all_samples.items()},
    )


# -- (4) compile and POST_COMPILE -------------------------------------------------------
def compile_rows(
    sides: list[Side],
    shape: Shape,
    keys: dict[str, Path],
    cold_reps: int,
    warm_reps: int,
    big: int,
    log,
) -> list[Row]:
    cold: dict[str, list[float]] = {s.label: [] for s in sides}
    warm: dict[str, list[float]] = {s.label: [] for s in sides}
    post: dict[str, list[float]] = {s.label: [] for s in sides}
    for side in sides:
        side.install_conf(conf_text(shape, 0), keys)
    for rep in range(cold_reps):
        for side in _order(sides, rep):
            side.wipe_repos()
            cold[side.label].append(
                side.must(side.compile_argv(), f"cold compile of {shape.repos} repos").seconds
            )
        log(
            f"  cold compile {shape.repos}: "
            + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in cold.items())
        )
    for rep in range(warm_reps):
        text = conf_text(shape, rep + 1)  # one rule differs from the last compile
        for side in _order(sides, rep):
            side.write_conf(text)
            warm[side.label].append(
                side.must(side.compile_argv(), f"warm compile of {shape.repos} repos").seconds
            )
    log(
        f"  warm compile {shape.repos}: "
        + ", ".join(f"{k} {median(v):.3f}s" for k, v in warm.items())
    )
    for rep in range(warm_reps):
        for side in _order(sides, rep):
            post[side.label].append(side.must(side.post_compile_argv(), "POST_COMPILE").seconds)
    log(
        f"  POST_COMPILE {shape.repos}: "
        + ", ".join(f"{k} {median(v):.3f}s" for k, v in post.items())
    )
    keys_note = f"{len(keys)} keys in keydir"
    return [
        _row("compile, cold (creates the repos)", shape.repos, cold, big),
        _row("compile, warm (one rule changed)", shape.repos, warm, big),
        _row("POST_COMPILE (4 shipped programs)", shape.repos, post, big, note=keys_note),
    ]


def check_authorized_keys(side: Side) -> None:
    """After POST_COMPILE the account's authorized_keys must force that system's shell."""
    text = (side.home / ".ssh" / "authorized_keys").read_text()
    if side.shell_command() not in text:
        raise RuntimeError(
            f"{side.label}: {side.home}/.ssh/authorized_keys does not force {side.shell_command()}"
        )


# -- (3) access --------------------------------------------------------------------------
def access_rows(sides: list[Side], shape: Shape, reps: int, big: int, log) -> list[Row]:
    rows = []
    for name, (repo, user, perm, ref) in access_queries(shape).items():
        samples: dict[str, list[float]] = {s.label: [] for s in sides}
        answers: dict[str, str] = {}
        for rep in range(reps):
            for side in _order(sides, rep):
                out = side.timed(side.access_argv(repo, user, perm, ref), env={"GL_USER": user})
                samples[side.label].append(out.seconds)
                allowed = out.status == 0 and "DENIED" not in out.stdout
                answers.setdefault(
                    side.label,
                    f"{'allowed' if allowed else 'DENIED'} (exit {out.status}: {out.stdout.strip()[:80]}{out.stderr.strip()[:80]})",
                )
                if out.status not in (0, 1):
                    raise RuntimeError(
                        f"{side.label}: access {repo} {user} {perm} {ref} failed: {out.stderr}"
                    )
        expected = "allowed" if EXPECTED_ALLOWED[name] else "DENIED"
        wrong = [f"{k}: {v}" for k, v in answers.items() if not v.startswith(expected)]
        note = f"`access {repo} {user} {perm} {ref}`" + (
            f"; UNEXPECTED ANSWER (expected {expected}): {'; '.join(wrong)}"
            if wrong
            else f" → {expected} on both"
        )
        rows.append(_row(f"access: {name}", shape.repos, samples, big, note=note))
        log(
            f"  access {name} {shape.repos}: "
            + ", ".join(f"{k} {median(v) * 1000:.1f}ms" for k, v in samples.items())
            + ("" if not wrong else "  (UNEXPECTED ANSWER)")
        )
    return rows


# -- (1) and (2): over ssh ---------------------------------------------------------------
def seed_target(clients: dict[str, Client], url_for: dict[str, str], work: Path) -> None:
    """Push the same small history (3 branches, a tag) into each system's target repo."""
    src = work / "seed"
    if not src.exists():
        env = next(iter(clients.values())).env()
        subprocess.run(["git", "init", "-q", "-b", "master", str(src)], check=True, env=env)
        for i in range(30):
            (src / f"file{i % 5}.txt").write_text(f"line {i}\n" * (i + 1))
            subprocess.run(["git", "add", "-A"], cwd=src, check=True, env=env)
            subprocess.run(
                ["git", "commit", "-q", "-m", f"commit {i}"], cwd=src, check=True, env=env
            )
            if i in (10, 20):
                subprocess.run(["git", "branch", f"dev/b{i}"], cwd=src, check=True, env=env)
        subprocess.run(["git", "tag", "v1.0"], cwd=src, check=True, env=env)
    for label, client in clients.items():
        _, proc = client.timed_git(
            "push",
            "-q",
            "--force",
            url_for[label],
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
            cwd=src,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{label}: seeding {url_for[label]} failed: {proc.stderr.decode(errors='replace')}"
            )


def ssh_rows(
    clients: dict[str, Client],
    url_for: dict[str, str],
    work: Path,
    size: int,
    reps: int,
    big: int,
    log,
    fetch_reps: int | None = None,
) -> list[Row]:
    """ls-remote (``fetch_reps`` runs: the wrapper overhead is a small difference of two
    noisy ssh round trips), then clone and push (``reps`` runs each)."""
    labels = list(clients)
    seed_target(clients, url_for, work)
    ls: dict[str, list[float]] = {k: [] for k in labels}
    for rep in range(fetch_reps or reps):
        for label in _order(labels, rep):
            seconds, proc = clients[label].timed_git("ls-remote", url_for[label])
            if proc.returncode != 0 or b"refs/heads/master" not in proc.stdout:
                raise RuntimeError(
                    f"{label}: ls-remote {url_for[label]} failed: {proc.stderr.decode(errors='replace')}"
                )
            ls[label].append(seconds)
    clone: dict[str, list[float]] = {k: [] for k in labels}
    for rep in range(reps):
        for label in _order(labels, rep):
            dest = work / f"clone-{label}"
            shutil.rmtree(dest, ignore_errors=True)
            seconds, proc = clients[label].timed_git("clone", "-q", url_for[label], str(dest))
            if proc.returncode != 0:
                raise RuntimeError(f"{label}: clone failed: {proc.stderr.decode(errors='replace')}")
            clone[label].append(seconds)
    push: dict[str, list[float]] = {k: [] for k in labels}
    for rep in range(reps):
        for label in _order(labels, rep):
            dest = work / f"clone-{label}"
            env = clients[label].env()
            (dest / "bench.txt").write_text(f"change {rep}\n")
            subprocess.run(["git", "add", "bench.txt"], cwd=dest, check=True, env=env)
            subprocess.run(
                ["git", "commit", "-q", "-m", f"bench change {rep}"], cwd=dest, check=True, env=env
            )
            seconds, proc = clients[label].timed_git(
                "push", "-q", "origin", "HEAD:refs/heads/master", cwd=dest
            )
            if proc.returncode != 0:
                raise RuntimeError(f"{label}: push failed: {proc.stderr.decode(errors='replace')}")
            push[label].append(seconds)
    floor_ls = ls.get("floor")
    rows = []
    two = {k: v for k, v in ls.items() if k != "floor"}
    rows.append(_row("git ls-remote round trip", size, two, big, floor=floor_ls))
    if floor_ls:
        # Paired by run: the three systems run back to back in each run, so the
        # difference to that run's floor cancels load that drifts between runs.
        over = {k: [x - f for x, f in zip(v, floor_ls, strict=True)] for k, v in two.items()}
        rows.append(
            _row(
                "wrapper overhead per fetch (ls-remote − floor)",
                size,
                over,
                big,
                note="each run's ls-remote time minus the git-shell floor's in the same run",
            )
        )
    rows.append(
        _row(
            "git clone",
            size,
            {k: v for k, v in clone.items() if k != "floor"},
            big,
            floor=clone.get("floor"),
        )
    )
    rows.append(
        _row(
            "git push (one small commit)",
            size,
            {k: v for k, v in push.items() if k != "floor"},
            big,
            floor=push.get("floor"),
            note="floor: git-shell, no hooks",
        )
    )
    log(f"  ls-remote {size}: " + ", ".join(f"{k} {median(v) * 1000:.0f}ms" for k, v in ls.items()))
    log(
        f"  clone/push {size}: "
        + ", ".join(
            f"{k} {median(clone[k]) * 1000:.0f}/{median(push[k]) * 1000:.0f}ms" for k in labels
        )
    )
    return rows


# -- (5) the trigger runner --------------------------------------------------------------
def runner_rows(sides: list[Side], reps: int, big: int, log) -> list[Row]:
    """Cost per program: (time of N no-op programs − time of an empty list) / N."""
    rows = []
    names = {"external": "BENCH_NOOP", "in-process": "BENCH_INPROC"}
    zero: dict[str, list[float]] = {s.label: [] for s in sides}
    full: dict[str, dict[str, list[float]]] = {kind: {s.label: [] for s in sides} for kind in names}
    for rep in range(reps):
        for side in _order(sides, rep):
            zero[side.label].append(
                side.must(side.trigger_argv("BENCH_ZERO"), "trigger BENCH_ZERO").seconds
            )
            for kind, name in names.items():
                full[kind][side.label].append(
                    side.must(side.trigger_argv(name), f"trigger {name}").seconds
                )
    counts = {"external": NOOP_COUNT, "in-process": INPROC_COUNT}
    for kind in names:
        per = {
            label: [(t - median(zero[label])) / counts[kind] for t in samples]
            for label, samples in full[kind].items()
        }
        what = (
            "a no-op /bin/sh script"
            if kind == "external"
            else "gitolite: a Perl trigger module's sub; ours: a Python module:function"
        )
        rows.append(
            _row(
                f"trigger runner, per program ({kind})",
                None,
                per,
                big,
                note=f"{counts[kind]} programs vs none; {what}",
            )
        )
        log(
            f"  runner per program ({kind}): "
            + ", ".join(f"{k} {median(v) * 1000:.2f}ms" for k, v in per.items())
        )
    rows.append(_row("trigger CLI with no programs", None, zero, big))
    return rows
