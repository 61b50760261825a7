"""Profile our side where the benchmark shows its cost: start-up imports and the hot functions.

Run after a benchmark run (it uses the state that run left: ``<workdir>/run/ours``, with the
largest conf compiled)::

    .venv/bin/python bench/run_vs_gitolite.py --profile [--workdir /var/tmp/glbench]

Everything runs as the ``glbench-ours`` account with the same installation the benchmark
used, and is written to ``bench/results/profile-raw.md`` (the findings drawn from it are in
``bench/results/profile.md``):

- wall time of each command, beside the bare interpreter (``python -c pass``);
- ``python -X importtime``: the modules that dominate start-up of access, shell, trigger;
- cProfile (cumulative) of ``access``, a warm ``compile``, the ssh wrapper serving one
  ``git-upload-pack`` (stdin is a flush packet, so git answers the ref advertisement and
  ends), and each POST_COMPILE program run on its own, plus ``trigger -v POST_COMPILE``'s
  per-program times.
"""

from __future__ import annotations

import io
import os
import pstats
import re
import statistics
import time
from pathlib import Path

from vs_gitolite.accounts import Account
from vs_gitolite.confgen import TARGET_REPO, access_queries, shape_for

POST_COMPILE_PROGRAMS = (
    "post-compile/ssh-authkeys",
    "post-compile/update-git-configs",
    "post-compile/update-gitweb-access-list",
    "post-compile/update-git-daemon-access-list",
)


def _wall(
    account: Account,
    argv: list[str],
    env: dict[str, str],
    reps: int = 5,
    input: bytes | None = None,
    cwd: Path | None = None,
) -> float:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        account.run(argv, check=False, extra_env=env, input=input, cwd=cwd)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _importtime(
    account: Account,
    python: str,
    args: list[str],
    env: dict[str, str],
    input: bytes | None = None,
    top: int = 12,
    cwd: Path | None = None,
) -> str:
    # A script (console script, launcher, hook stub) runs with its own shebang's flags
    # (the launchers' -IS), as sshd and git run it; else a CLI sub-command via -m.
    script = bool(args) and args[0].startswith("/")
    flags: list[str] = []
    if script:
        first = Path(args[0]).read_text(errors="replace").split("\n", 1)[0]
        flags = first.split(None, 1)[1:] if first.startswith("#!") else []
    out = account.run(
        [
            python,
            *flags,
            "-X",
            "importtime",
            *(args if script else ["-m", "gitolite_triggers", *args]),
        ],
        check=False,
        extra_env=env,
        input=input,
        cwd=cwd,
    )
    rows = []
    for line in out.stderr.decode(errors="replace").splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), int(m.group(1)), len(m.group(3)) // 2, m.group(4)))
    total = sum(cum for cum, _, depth, _ in rows if depth == 0)
    heavy = [
        r
        for r in rows
        if r[3].split(".")[0]
        in ("yaml", "jsonschema", "requests", "argparse", "json", "subprocess", "importlib")
    ]
    lines = [
        f"imports total (top-level cumulative): **{total / 1000:.1f} ms**; top {top} by cumulative:",
        "",
        "| cumulative ms | self ms | module |",
        "|---:|---:|---|",
    ]
    for cum, self_, depth, name in sorted(rows, reverse=True)[:top]:
        lines.append(f"| {cum / 1000:.1f} | {self_ / 1000:.1f} | {'· ' * depth}{name} |")
    if heavy:
        seen = sorted({r[3].split(".")[0] for r in heavy})
        lines.append("")
        lines.append(
            "heavy or notable stdlib/third-party modules imported: "
            + ", ".join(f"`{s}`" for s in seen)
        )
    return "\n".join(lines)


def _cprofile(
    account: Account,
    python: str,
    argv: list[str],
    env: dict[str, str],
    out: Path,
    input: bytes | None = None,
    top: int = 22,
    cwd: Path | None = None,
) -> str:
    out.unlink(missing_ok=True)
    account.run(
        [python, "-m", "cProfile", "-o", str(out), *argv],
        check=False,
        extra_env=env,
        input=input,
        cwd=cwd,
    )
    if not out.exists():
        return "(no profile written)"
    buf = io.StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.sort_stats("cumulative").print_stats(top * 4)
    text = buf.getvalue()
    text = re.sub(r"/\S*/site-packages/", "", text)
    text = re.sub(r"/\S*/lib/python3\.\d+/", "", text)
    body = text[text.find("   ncalls") :] if "   ncalls" in text else text
    # Import machinery and the entry-point wrappers say nothing; keep the rest.
    noise = (
        "<frozen importlib",
        "builtins.exec}",
        "<string>:1(<module>)",
        "<frozen runpy>",
        "builtins.__import__}",
        "_imp.exec_",
    )
    kept = [
        line for line in body.splitlines() if line.strip() and not any(n in line for n in noise)
    ]
    body = "\n".join(kept[: top + 1])
    head = re.search(r"(\d+) function calls.*? in ([\d.]+) seconds", text)
    summary = (
        f"{head.group(1)} calls, {float(head.group(2)) * 1000:.0f} ms under the profiler"
        if head
        else ""
    )
    return f"{summary}\n\n```\n{body.rstrip()}\n```"


def profile(workdir: Path, out_md: Path, bindir: Path, log=print) -> Path:
    home = workdir / "run" / "ours"
    account = Account("glbench-ours", home, "/bin/sh")
    python = str(bindir / "python")
    exe = str(bindir / "gitolite-triggers")
    launcher = str(home / ".gitolite" / "bin" / "gitolite-triggers")  # what authorized_keys runs
    conf = (home / ".gitolite" / "conf" / "gitolite.conf").read_text()
    repos = int(re.search(r"confgen.py: (\d+) repos, (\d+) users", conf).group(1))
    users = int(re.search(r"confgen.py: (\d+) repos, (\d+) users", conf).group(2))
    shape = shape_for(repos, users)
    repo, user, perm, ref = access_queries(shape)["allowed"]
    prof = home / "prof"
    prof.mkdir(exist_ok=True)
    os.chown(prof, account.uid, account.gid)
    base_env = {"GL_USER": user}
    builtin_dir = (
        account.run(
            [
                python,
                "-c",
                "from gitolite_triggers.paths import BUILTIN_TRIGGERS as d; print(d)",
            ]
        )
        .stdout.decode()
        .strip()
    )
    trig_env = {
        "GL_ADMIN_BASE": str(home / ".gitolite"),
        "GL_REPO_BASE": str(home / "repositories"),
        "GL_BINDIR": str(bindir),
        "GL_LOGFILE": str(home / ".gitolite" / "logs" / "profile.log"),
        "GL_TID": "1",
    }
    shell_env = {
        "SSH_ORIGINAL_COMMAND": f"git-upload-pack '{TARGET_REPO}'",
        "SSH_CONNECTION": "127.0.0.1 40000 127.0.0.1 22",
    }
    flush = b"0000"
    log(f"profiling ours in {home} ({repos} repos)")

    sections = [
        "# Profile of gitolite-triggers on the benchmark's state",
        "",
        f"Account `glbench-ours`, {repos:,} repos, {users} users; interpreter `{python}`. "
        "Generated by `bench/vs_gitolite/profile_ours.py` (`bench/run_vs_gitolite.py --profile`).",
        "",
        "## Wall time per command (median of 5)",
        "",
        "| command | ms |",
        "|---|---:|",
    ]
    walls = {
        "python -c pass": ([python, "-c", "pass"], {}, None),
        "python -S -c pass (no site)": ([python, "-S", "-c", "pass"], {}, None),
        "python -c 'import gitolite_triggers.cli'": (
            [python, "-c", "import gitolite_triggers.cli"],
            {},
            None,
        ),
        f"gitolite-triggers access {repo} {user} {perm} {ref}": (
            [exe, "access", repo, user, perm, ref],
            base_env,
            None,
        ),
        "gitolite-triggers trigger BENCH_ZERO": ([exe, "trigger", "BENCH_ZERO"], {}, None),
        f"gitolite-triggers shell admin (git-upload-pack '{TARGET_REPO}', no ssh)": (
            [launcher, "shell", "admin"],
            shell_env,
            flush,
        ),
        "git-upload-pack alone (same repo, same stdin)": (
            ["git-upload-pack", str(home / "repositories" / f"{TARGET_REPO}.git")],
            {},
            flush,
        ),
    }
    target = home / "repositories" / f"{TARGET_REPO}.git"
    master = (
        account.run(["git", "--git-dir", str(target), "rev-parse", "refs/heads/master"])
        .stdout.decode()
        .strip()
    )
    hook_env = {
        "GIT_DIR": ".",
        "GL_USER": "admin",
        "GL_REPO": TARGET_REPO,
        "GL_TID": "1",
        **trig_env,
    }
    zero = "0" * 40
    all_hooks = {
        "pre-receive": ([], f"{zero} {master} refs/heads/bench-profile\n".encode()),
        "update": (["refs/heads/bench-profile", zero, master], None),
        "post-receive": ([], f"{zero} {master} refs/heads/bench-profile\n".encode()),
        "post-update": (["refs/heads/bench-profile"], None),
    }
    # Only the hooks this version links into a repo (it may skip those with nothing to do).
    hooks = {h: v for h, v in all_hooks.items() if (target / "hooks" / h).exists()}
    for hook, (args, stdin) in hooks.items():
        walls[f"hook {hook} (one new branch; run in the repo as git would)"] = (
            [str(target / "hooks" / hook), *args],
            hook_env,
            stdin,
        )
    for label, (argv, env, stdin) in walls.items():
        cwd = target if label.startswith("hook ") else None
        sections.append(
            f"| `{label}` | {_wall(account, argv, env, input=stdin, cwd=cwd) * 1000:.1f} |"
        )

    sections += ["", "## Start-up imports (`python -X importtime`)", ""]
    for label, args, env, stdin in (
        ("access (console script)", [exe, "access", repo, user, perm, ref], base_env, None),
        ("shell (git-upload-pack, the launcher)", [launcher, "shell", "admin"], shell_env, flush),
        ("trigger BENCH_ZERO (console script)", [exe, "trigger", "BENCH_ZERO"], {}, None),
        *(
            (f"hook {hook}", [str(target / "hooks" / hook), *hargs], hook_env, hstdin)
            for hook, (hargs, hstdin) in hooks.items()
        ),
    ):
        cwd = target if label.startswith("hook ") else None
        text = _importtime(account, python, args, env, input=stdin, cwd=cwd)
        sections += [f"### {label}", "", text, ""]

    sections += ["## cProfile, cumulative", ""]
    runs = [
        ("access", ["-m", "gitolite_triggers", "access", repo, user, perm, ref], base_env, None),
        (
            "shell (git-upload-pack, no ssh)",
            ["-m", "gitolite_triggers", "shell", "admin"],
            shell_env,
            flush,
        ),
        ("compile (warm: all repos exist)", ["-m", "gitolite_triggers", "compile"], {}, None),
    ]
    for name in POST_COMPILE_PROGRAMS:
        runs.append(
            (
                f"POST_COMPILE program {name}",
                [f"{builtin_dir}/{name}", "POST_COMPILE"],
                trig_env,
                None,
            )
        )
    for hook, (args, stdin) in hooks.items():
        runs.append((f"hook {hook}", [str(target / "hooks" / hook), *args], hook_env, stdin))
    for label, argv, env, stdin in runs:
        log(f"  cProfile {label}")
        sections += [
            f"### {label}",
            "",
            _cprofile(
                account,
                python,
                argv,
                env,
                prof / "out.prof",
                input=stdin,
                cwd=target if label.startswith("hook ") else None,
            ),
            "",
        ]

    verbose = account.run([exe, "trigger", "-v", "POST_COMPILE"], check=False)
    said = verbose.stderr.decode(errors="replace") + verbose.stdout.decode(errors="replace")
    per = re.findall(r"trigger POST_COMPILE: (\S+) exited (\d+) in (\d+) ms", said)
    sections += [
        "## `gitolite-triggers trigger -v POST_COMPILE`, per program",
        "",
        "| program | exit | ms |",
        "|---|---:|---:|",
    ]
    sections += [f"| {p} | {code} | {ms} |" for p, code, ms in per]
    if not per:
        tail = "\n".join(said.strip().splitlines()[-15:])
        sections += [
            "",
            f"(no per-program lines; exit {verbose.returncode}; output:)",
            "",
            "```",
            tail,
            "```",
        ]
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text("\n".join(sections) + "\n")
    log(f"wrote {out_md}")
    return out_md
