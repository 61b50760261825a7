#!/usr/bin/env python3
"""gitolite3's own compile (and one ``access``) at a size where it may not finish.

    .venv/bin/python bench/gitolite_compile_100k.py [--repos 100000] [--users 20000] [--limit 600]

The same seeded conf as bench/bench_rules.py (tests/support/confgen.py) with the same bare
folders, compiled by the real ``gitolite compile`` in a throwaway HOME, with a wall-clock
limit: the issue asks for gitolite's time, or that it did not finish within 10 minutes.
Prints one line per measure; bench/README.md has the figures beside ours.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_rules import generated  # noqa: E402

from tests.support.gitolite_ref import GitoliteRef  # noqa: E402


def timed(ref: GitoliteRef, args: list[str], limit: float, check: bool = True) -> float:
    """Seconds one ``gitolite ARGS`` takes in the account; TimeoutExpired past ``limit``."""
    start = time.perf_counter()
    subprocess.run(
        [ref.exe, *args],
        env=ref.env,
        cwd=ref.home,
        check=check,
        capture_output=True,
        timeout=limit,
    )
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--limit", type=float, default=600.0, help="seconds gitolite may take")
    ns = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gl-compile-"))
    try:
        gen = generated(ns.repos, ns.users)
        ref = GitoliteRef(tmp / "gitolite")
        ref.setup()
        for name in gen.plain:
            ref.precreate(name)
        ref.write_conf(gen.conf, gen.includes)
        print(
            f"{ns.repos} repos, {ns.users} users, {gen.conf.count(chr(10))} conf lines", flush=True
        )
        try:
            first = timed(ref, ["compile"], ns.limit)
        except subprocess.TimeoutExpired:
            print(f"gitolite compile, first: did not finish within {ns.limit:.0f} s")
            return 0
        print(f"gitolite compile, first: {first:.1f} s", flush=True)
        print(f"gitolite compile, again: {timed(ref, ['compile'], ns.limit):.1f} s", flush=True)
        q = gen.queries[0]
        access = timed(ref, ["access", "-q", *q[:2], "W", "master"], ns.limit, check=False)
        print(f"one gitolite access -q: {access * 1000:.0f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
