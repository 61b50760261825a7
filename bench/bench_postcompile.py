#!/usr/bin/env python3
"""Time setup, compile and the four POST_COMPILE programs at scale.

A sandboxed HOME gets ``setup --pubkey``, then a generated conf with N repos (owned by
teams of users; every 3rd readable by gitweb, every 4th by daemon, every 5th with a
``config`` line) and U user keys in keydir. Measured (wall time of the real commands):

- ``compile`` that creates the N repos (git init + hooks each);
- ``trigger POST_COMPILE`` right after it (writes configs, projects.list, export flags,
  authorized_keys): the "first" run;
- ``trigger POST_COMPILE`` again with nothing to change: the steady state, what every
  admin push that does not touch these pays; per-program times from the log.

Usage: .venv/bin/python bench/bench_postcompile.py [--repos 10000] [--users 2000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import make_server  # noqa: E402


def make_keys(folder: Path, n: int) -> list[str]:
    """n real ed25519 public key lines (cached between runs in /tmp)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        pub = folder / f"k{i}.pub"
        if not pub.exists():
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"k{i}",
                    "-f",
                    str(folder / f"k{i}"),
                ],
                check=True,
                stdin=subprocess.DEVNULL,
            )
        lines.append(pub.read_text())
    return lines


def conf_text(repos: int, users: int) -> str:
    teams = max(1, users // 10)
    out = ["repo gitolite-admin", "    RW+ = admin", ""]
    for t in range(teams):
        out.append(
            f"@team{t} = " + " ".join(f"u{u}" for u in range(t * 10, min(users, t * 10 + 10)))
        )
    for r in range(repos):
        out += [f"repo r{r:05d}", f"    RW+ = @team{r % teams}"]
        if r % 3 == 0:
            out.append("    R = gitweb")
        if r % 4 == 0:
            out.append("    R = daemon")
        if r % 5 == 0:
            out.append(f"    config hooks.mailinglist = team{r % teams}@example.com")
    return "\n".join(out) + "\n"


def run(server, *args: str) -> float:
    start = time.perf_counter()
    r = server.cli(*args, timeout=3600)
    took = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{r.stdout}\n{r.stderr[-3000:]}")
    return took


def per_program(log: Path, since: int) -> dict[str, str]:
    out = {}
    for line in log.read_text().splitlines()[since:]:
        m = re.search(r"\ttrigger\tPOST_COMPILE\t(\S+)\texit=\d+\t(\d+)ms", line)
        if m:
            out[m.group(1).split("/")[-1]] = f"{int(m.group(2)) / 1000:.2f}s"
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repos", type=int, default=1000)
    p.add_argument("--users", type=int, default=500)
    ns = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-postcompile-"))
    try:
        keys = make_keys(Path(tempfile.gettempdir()) / "bench-postcompile-keys", ns.users + 1)
        server = make_server(tmp / "home", with_shipped_rc_d=False)
        admin = tmp / "admin.pub"
        admin.write_text(keys[-1])
        t_setup = run(server, "setup", "--pubkey", str(admin))
        server.write_rc('GIT_CONFIG_KEYS: "hooks\\\\..*"\n', name="50-bench.yaml")
        (server.admin_base / "conf" / "gitolite.conf").write_text(conf_text(ns.repos, ns.users))
        for u in range(ns.users):
            (server.admin_base / "keydir" / f"u{u}.pub").write_text(keys[u])
        t_compile = run(server, "compile")
        log = next((server.admin_base / "logs").glob("gitolite-*.log"))
        t_first = run(server, "trigger", "POST_COMPILE")
        mark = len(log.read_text().splitlines())
        t_again = run(server, "trigger", "POST_COMPILE")
        progs = per_program(log, mark)
        listed = len((server.home / "projects.list").read_text().splitlines())
        print(f"repos={ns.repos} users={ns.users}")
        print(f"setup (fresh account)             {t_setup:7.2f}s")
        print(f"compile creating {ns.repos} repos     {t_compile:7.2f}s")
        print(f"POST_COMPILE, first run           {t_first:7.2f}s")
        print(f"POST_COMPILE, nothing to change   {t_again:7.2f}s   {progs}")
        print(f"projects.list lines: {listed}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
