#!/usr/bin/env python3
"""Time ``gitolite-triggers trigger`` as an admin (or the wrapper) pays for it.

Cases, each run N times in a sandboxed HOME with a warm rc cache, reporting the median
and the 90th percentile of the whole command's wall time:

- an empty sequence (start-up + rc cache load only);
- 4 external programs (``/bin/true``-like executables);
- 4 in-process callables (``module:function`` entries);
- the cold case: the rc cache deleted before each run (YAML + schema validation).

Usage: .venv/bin/python bench/bench_trigger.py [-n 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import make_server  # noqa: E402


def timed(cmd: list[str], env: dict[str, str], cwd: Path, before=None) -> float:
    if before:
        before()
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="runs per case")
    ns = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-trigger-"))
    try:
        server = make_server(tmp / "home")
        true = shutil.which("true") or "/bin/true"
        local = server.home / "local" / "triggers"
        local.mkdir(parents=True)
        os.symlink(true, local / "noop")
        server.write_rc(
            f"LOCAL_CODE: {server.home / 'local'}\n"
            "EMPTY: []\n"
            "EXTERNAL: [noop a, noop b, noop c, noop d]\n"
            "INPROC:\n" + "  - tests.support.callables:noop\n" * 4
        )
        cli = [sys.executable, "-m", "gitolite_triggers", "trigger"]
        cache = server.home / ".gitolite.rc.yaml.cache"
        cases = {
            "empty sequence": (cli + ["EMPTY"], None),
            "4 external programs": (cli + ["EXTERNAL", "repo", "user"], None),
            "4 in-process callables": (cli + ["INPROC", "repo", "user"], None),
            "empty sequence, cold rc cache": (
                cli + ["EMPTY"],
                lambda: cache.unlink(missing_ok=True),
            ),
        }
        subprocess.run(cli + ["EMPTY"], env=server.env, cwd=server.home, check=True)
        rows = []
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(ns.n):  # interleave the cases so machine noise hits all alike
            for name, (cmd, before) in cases.items():
                results[name].append(timed(cmd, server.env, server.home, before))
        for name, samples in results.items():
            samples.sort()
            p90 = samples[int(len(samples) * 0.9) - 1]
            rows.append(f"| {name} | {statistics.median(samples):.1f} | {p90:.1f} |")
        print(
            f"gitolite-triggers trigger, {ns.n} runs each, wall time in ms (python {sys.version.split()[0]})"
        )
        print("| case | median | p90 |\n|---|---|---|")
        print("\n".join(rows))
        base = statistics.median(results["empty sequence"])
        for name in ("4 external programs", "4 in-process callables"):
            per = (statistics.median(results[name]) - base) / 4
            print(f"per program, {name.split(' ', 1)[1]}: {per:.2f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
