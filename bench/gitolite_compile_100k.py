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

from tests.support.confgen import generate  # noqa: E402
from tests.support.gitolite_ref import GitoliteRef  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--limit", type=float, default=600.0, help="seconds gitolite may take")
    ns = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gl-compile-"))
    try:
        gen = generate(  # exactly bench_rules.py's conf for this size
            20260 + ns.repos,
            n_repos=ns.repos,
            n_users=ns.users,
            n_queries=2000,  # bench_rules' default --checks: one random stream, so the same conf
            n_wild=min(200, ns.repos // 20),
            n_pairs=24,
        )
        ref = GitoliteRef(tmp / "gitolite")
        ref.setup()
        for name in gen.plain:
            ref.precreate(name)
        ref.write_conf(gen.conf, gen.includes)
        print(
            f"{ns.repos} repos, {ns.users} users, {gen.conf.count(chr(10))} conf lines", flush=True
        )
        start = time.perf_counter()
        try:
            subprocess.run(
                [ref.exe, "compile"],
                env=ref.env,
                cwd=ref.home,
                check=True,
                capture_output=True,
                timeout=ns.limit,
            )
        except subprocess.TimeoutExpired:
            print(f"gitolite compile, first: did not finish within {ns.limit:.0f} s")
            return 0
        print(f"gitolite compile, first: {time.perf_counter() - start:.1f} s", flush=True)
        start = time.perf_counter()
        subprocess.run(
            [ref.exe, "compile"],
            env=ref.env,
            cwd=ref.home,
            check=True,
            capture_output=True,
            timeout=ns.limit,
        )
        print(f"gitolite compile, again: {time.perf_counter() - start:.1f} s", flush=True)
        q = gen.queries[0]
        start = time.perf_counter()
        subprocess.run(
            [ref.exe, "access", "-q", *q[:2], "W", "master"],
            env=ref.env,
            cwd=ref.home,
            capture_output=True,
            timeout=ns.limit,
        )
        print(f"one gitolite access -q: {(time.perf_counter() - start) * 1000:.0f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
