"""The ssh path under measurement: the wrapper's overhead, and a concurrent load.

    .venv/bin/python bench/bench_ssh.py [--rounds 30] [--fetches 50] [--pushes 10] [--out bench/results/ssh.md]

1. Round trip of ``git ls-remote`` over ssh through ``gitolite-triggers shell`` against the
   same over a bare ``git shell -c "$SSH_ORIGINAL_COMMAND"`` forced command, on the same
   sshd, the same repo, interleaved (so machine noise hits both alike). The difference is
   the wrapper's overhead: Python start-up, rc cache, access check, triggers, logging.
2. A concurrent load through sshd: ``--fetches`` clones and ``--pushes`` pushes (each to its
   own branch) all started at once; every one must succeed, and the log must hold every
   session whole: one ``ssh``, ``pre_git`` and ``END`` line per session and one ``update``
   line per push, every line well-formed.

Everything runs in a throwaway server account (tests/support/server.py) with a real
sshd (tests/support/sshd.py) on 127.0.0.1; nothing is left running.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import make_server  # noqa: E402
from tests.support.sshd import SshClient, Sshd, install_keys, make_key  # noqa: E402

CONF = """\
repo gitolite-admin
    RW+     =   admin

repo bench
    RW+     =   alice
"""
LINE = re.compile(r"^\d{4}-\d\d-\d\d\.\d\d:\d\d:\d\d\t\d+\t[^\n]*$")


def ms(values: list[float]) -> str:
    v = sorted(values)
    p90 = v[min(len(v) - 1, int(len(v) * 0.9))]
    return f"median {1000 * statistics.median(v):.0f} ms, p90 {1000 * p90:.0f} ms, mean {1000 * statistics.mean(v):.0f} ms"


def timed(fn, *args) -> tuple[float, subprocess.CompletedProcess[str]]:  # type: ignore[no-untyped-def]
    t = time.monotonic()
    r = fn(*args)
    return time.monotonic() - t, r


def git_env() -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": "B",
        "GIT_AUTHOR_EMAIL": "b@e",
        "GIT_COMMITTER_NAME": "B",
        "GIT_COMMITTER_EMAIL": "b@e",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--fetches", type=int, default=50)
    ap.add_argument("--pushes", type=int, default=10)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ssh.md"))
    ns = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ssh-") as tmpd:
        tmp = Path(tmpd)
        server = make_server(tmp / "home")
        admin, alice, plain = (make_key(tmp / "keys", n) for n in ("admin", "alice", "plain"))
        (tmp / "admin.pub").write_text(admin.pub + "\n")
        subprocess.run(
            [sys.executable, "-m", "gitolite_triggers", "setup", "-pk", str(tmp / "admin.pub")],
            env=server.env,
            check=True,
            capture_output=True,
            cwd=server.home,
        )
        (server.admin_base / "conf" / "gitolite.conf").write_text(CONF)
        server.cli("compile", check=True)
        ak = install_keys(server, [admin, alice])
        # The comparison key: a bare git-shell forced command, outside ssh-authkeys' block.
        with open(ak, "a") as f:
            f.write(
                f'command="git shell -c \\"$SSH_ORIGINAL_COMMAND\\"",no-pty,no-port-forwarding {plain.pub}\n'
            )
        repo_abs = server.repo_base / "bench.git"

        with Sshd(tmp / "sshd", home=server.home) as sshd:
            via_wrapper, via_shell = SshClient(sshd, alice), SshClient(sshd, plain)
            seed = tmp / "seed"
            via_wrapper.git("clone", "-q", via_wrapper.url("bench"), str(seed), check=True)
            for i in range(20):
                (seed / f"f{i}.txt").write_text(f"file {i}\n" * 50)
            subprocess.run(["git", "-C", str(seed), "add", "."], check=True)
            subprocess.run(
                ["git", "-C", str(seed), "commit", "-qm", "seed"],
                check=True,
                env={**via_wrapper.env(), **git_env()},
            )
            via_wrapper.git(
                "-C", str(seed), "push", "-q", "origin", "HEAD:refs/heads/master", check=True
            )

            url_w, url_s = via_wrapper.url("bench"), f"ssh://root@127.0.0.1:{sshd.port}{repo_abs}"
            for c, u in ((via_wrapper, url_w), (via_shell, url_s)):  # warm up both paths
                c.git("ls-remote", u, check=True)
            tw: list[float] = []
            ts: list[float] = []
            for _ in range(ns.rounds):
                d, r = timed(via_wrapper.git, "ls-remote", url_w)
                assert r.returncode == 0 and "refs/heads/master" in r.stdout, r.stderr
                tw.append(d)
                d, r = timed(via_shell.git, "ls-remote", url_s)
                assert r.returncode == 0 and "refs/heads/master" in r.stdout, r.stderr
                ts.append(d)
            overhead = statistics.median(tw) - statistics.median(ts)
            # The wrapper alone, no ssh: a whole ls-remote-like session (the client's
            # flush packet on stdin), run as sshd would run it.
            env = {
                **server.env,
                "SSH_ORIGINAL_COMMAND": "git-upload-pack 'bench'",
                "SSH_CONNECTION": "127.0.0.1 1 127.0.0.1 22",
            }
            td: list[float] = []
            for _ in range(ns.rounds):
                t = time.monotonic()
                r = subprocess.run(
                    [str(Path(sys.executable).parent / "gitolite-triggers"), "shell", "alice"],
                    env=env,
                    input=b"0000",
                    capture_output=True,
                    cwd=server.home,
                )
                td.append(time.monotonic() - t)
                assert r.returncode == 0 and b"refs/heads/master" in r.stdout, r.stderr

            # ---- concurrent load
            pushers = []
            for i in range(ns.pushes):
                w = tmp / f"push{i}"
                subprocess.run(["git", "clone", "-q", str(seed), str(w)], check=True)
                (w / "p.txt").write_text(f"push {i}\n")
                subprocess.run(["git", "-C", str(w), "add", "."], check=True)
                subprocess.run(
                    ["git", "-C", str(w), "commit", "-qm", f"p{i}"],
                    check=True,
                    env={**via_wrapper.env(), **git_env()},
                )
                pushers.append(w)
            logs = server.admin_base / "logs"
            log_before = {p: p.stat().st_size for p in logs.glob("*.log")}

            def fetch(i: int) -> subprocess.CompletedProcess[str]:
                return via_wrapper.git("clone", "-q", url_w, str(tmp / f"fetch{i}"), timeout=300)

            def push(i: int) -> subprocess.CompletedProcess[str]:
                return via_wrapper.git(
                    "-C",
                    str(pushers[i]),
                    "push",
                    "-q",
                    url_w,
                    f"HEAD:refs/heads/load/{i}",
                    timeout=300,
                )

            t0 = time.monotonic()
            with ThreadPoolExecutor(max_workers=ns.fetches + ns.pushes) as pool:
                jobs = [pool.submit(fetch, i) for i in range(ns.fetches)] + [
                    pool.submit(push, i) for i in range(ns.pushes)
                ]
                results = [j.result() for j in jobs]
            wall = time.monotonic() - t0
            failures = [r.stderr.strip()[-300:] for r in results if r.returncode != 0]
            new_lines: list[str] = []
            for p in sorted(logs.glob("*.log")):
                with open(p, encoding="utf-8") as f:
                    f.seek(log_before.get(p, 0))
                    new_lines += f.read().splitlines()
            malformed = [x for x in new_lines if not LINE.match(x)]
            fields = [x.split("\t") for x in new_lines]
            count = {
                k: sum(1 for f in fields if len(f) > 2 and f[2] == k)
                for k in ("ssh", "pre_git", "END", "update")
            }
            sessions = ns.fetches + ns.pushes
            per_tid: dict[str, set[str]] = {}
            for f in fields:
                if len(f) > 2:
                    per_tid.setdefault(f[1], set()).add(f[2])
            whole = sum(1 for kinds in per_tid.values() if {"ssh", "pre_git", "END"} <= kinds)
            branches = subprocess.run(
                [
                    "git",
                    "-C",
                    str(repo_abs),
                    "for-each-ref",
                    "--format=%(refname)",
                    "refs/heads/load/",
                ],
                capture_output=True,
                text=True,
            ).stdout.split()
        sshd_gone = sshd.pid is None

    ok = (
        not failures
        and not malformed
        and count["ssh"] == count["pre_git"] == count["END"] == whole == sessions
        and count["update"] == ns.pushes
        and len(branches) == ns.pushes
        and sshd_gone
    )
    report = f"""# ssh path: wrapper overhead and concurrent load

Command: `.venv/bin/python bench/bench_ssh.py --rounds {ns.rounds} --fetches {ns.fetches} --pushes {ns.pushes}`
(real OpenSSH sshd on 127.0.0.1, real git clients, throwaway server account; {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())};
2-core machine shared with other work, so absolute numbers are noisy).

## `git ls-remote` round trip over ssh ({ns.rounds} rounds each, interleaved)

| forced command | time |
|---|---|
| `gitolite-triggers shell alice` (access check, ACCESS_CHECK/PRE_GIT/POST_GIT, log) | {ms(tw)} |
| `git shell -c "$SSH_ORIGINAL_COMMAND"` (no checks at all) | {ms(ts)} |

Wrapper overhead (difference of medians): **{1000 * overhead:.0f} ms** per session.

The wrapper alone, without ssh (`gitolite-triggers shell alice` with SOC `git-upload-pack 'bench'`
and the client's flush packet on stdin: rc cache, access check, triggers incl. the shipped
in-process Buildkite POST_GIT program, git upload-pack, log): {ms(td)}.

## Concurrent load: {ns.fetches} clones + {ns.pushes} pushes started at once

- wall time: {wall:.1f} s
- failures: {len(failures)}{"".join(chr(10) + "  - " + x for x in failures[:5])}
- log lines: ssh {count["ssh"]}, pre_git {count["pre_git"]}, END {count["END"]}, update {count["update"]}; sessions with all three of ssh/pre_git/END: {whole} of {sessions}; malformed lines: {len(malformed)}
- pushed branches present: {len(branches)} of {ns.pushes}
- sshd stopped by its pid: {sshd_gone}

Result: **{"PASS" if ok else "FAIL"}**
"""
    Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.out).write_text(report)
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
