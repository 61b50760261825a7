#!/usr/bin/env python3
"""Wall time and peak RSS of ``gitolite-triggers compile`` (with its POST_COMPILE) at
100,000 repos / 20,000 users: the conf bench_rules.py generates, repos as bare folders.

Issue 14 asks for the memory of compile and POST_COMPILE at that size; bench_rules.py
times compile in-process, where the peak RSS of the CLI cannot be seen. ``wait4`` gives
the child's ru_maxrss (its own waited-for children included). Runs "cold" (hooks linked
into every repo) then "warm".

Usage: .venv/bin/python bench/rss_compile_100k.py [--repos 100000] [--users 20000]  (~1 min)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_rules import generated, lay_out  # noqa: E402

from tests.support.server import make_server  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repos", type=int, default=100000)
    p.add_argument("--users", type=int, default=20000)
    ns = p.parse_args(argv)
    gen = generated(ns.repos, ns.users)
    tmp = Path(tempfile.mkdtemp(prefix="bench-rss-"))
    try:
        server = make_server(tmp / "home")
        lay_out(server, gen)
        for label in ("cold", "warm"):
            t = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "gitolite_triggers", "compile"],
                env=server.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _, status, usage = os.wait4(proc.pid, 0)
            took = time.perf_counter() - t
            code = os.waitstatus_to_exitcode(status)
            print(
                f"compile {label}: {took:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB, exit {code}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
