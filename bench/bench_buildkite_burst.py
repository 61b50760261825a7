#!/usr/bin/env python3
"""A burst of pushes across many repos while the stand-in enforces a rate limit (429).

One sandboxed account behind a real sshd, a Buildkite section on the stand-in (this
process) whose per-user limit is --limit requests per --window seconds, answered beyond
that with 429 and the ``RateLimit-Remaining``/``RateLimit-Reset`` headers Buildkite
documents. --repos repos get --pushes pushes each (one new commit per push, over ssh),
--concurrency at a time. Then we wait until every build exists and report:

- every push built exactly once (one build per pushed commit, nothing lost, nothing
  duplicated; nothing left pending or dead in the spool);
- the time to drain (first push started -> last build created; last push returned ->
  last build created) against the floor the limit sets (builds / limit * window);
- no busy looping: HTTP requests per build, the 429s received, and the deliverers'
  wake-ups (their ``deliverer done ... wakeups=N`` log lines) per second of drain.

Usage: .venv/bin/python bench/bench_buildkite_burst.py [--repos 20 --pushes 10
       --concurrency 10 --limit 20 --window 10] [--out FILE]
(tests/test_bench_buildkite_ops_smoke.py runs a tiny one.)
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_buildkite_latency import clone, make_account, push_commit  # noqa: E402

from gitolite_triggers.buildkite.spool import Spool  # noqa: E402
from tests.support.standin import running_standin  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repos", type=int, default=20)
    ap.add_argument("--pushes", type=int, default=10, help="pushes per repo")
    ap.add_argument("--concurrency", type=int, default=10, help="pushes at once")
    ap.add_argument("--limit", type=int, default=20, help="requests per window (per user)")
    ap.add_argument("--window", type=float, default=10.0, help="rate-limit window, seconds")
    ap.add_argument("--drain", type=float, default=600.0, help="give up after this long")
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    repos = [f"burst/r{i:02d}" for i in range(a.repos)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-bk-burst-"))
    pushed: list[tuple[str, str]] = []
    lock = threading.Lock()
    with running_standin() as si:
        si.set_limits(user_limit=a.limit, org_limit=a.limit * 4, window=a.window)  # type: ignore[attr-defined]
        srv, sshd, client = make_account(tmp, si.api_url, repos)  # type: ignore[attr-defined]
        try:
            works = {r: tmp / "work" / r.replace("/", "_") for r in repos}
            for r, w in works.items():
                clone(client, r, w)

            def one_repo(repo: str) -> float:
                last = 0.0
                for i in range(a.pushes):
                    sha, returned = push_commit(client, works[repo], f"burst {repo} {i}")
                    with lock:
                        pushed.append((repo, sha))
                    last = max(last, returned)
                return last

            start = time.time()
            with ThreadPoolExecutor(a.concurrency) as pool:
                last_return = max(pool.map(one_repo, repos))
            deadline = time.monotonic() + a.drain
            want = len(pushed)
            while len(si.builds()) < want and time.monotonic() < deadline:  # type: ignore[attr-defined]
                time.sleep(0.1)
            spool = Spool(srv.admin_base / "buildkite")
            while spool.holder() and time.monotonic() < deadline:
                time.sleep(0.1)
            builds = si.builds()  # type: ignore[attr-defined]
            received = si.received()  # type: ignore[attr-defined]
            pending, dead = spool.ids("pending"), spool.ids("dead")
            log = srv.log_text()
        finally:
            sshd.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    created = [e["time"] for e in received if e["method"] == "POST" and e["status"] == 201]
    last_build = max(created) if created else float("nan")
    per_commit = Counter((b["meta_data"].get("gitolite_repo"), b["commit"]) for b in builds)
    exactly_once = all(per_commit[p] == 1 for p in pushed) and sum(per_commit.values()) == len(
        pushed
    )
    statuses = Counter(f"{e['method']} {e['status']}" for e in received)
    n429 = sum(v for k, v in statuses.items() if k.endswith(" 429"))
    runs = [
        tuple(map(int, m))
        for m in re.findall(r"deliverer done\trequests=(\d+)\twakeups=(\d+)", log)
    ]
    wakeups = sum(w for _, w in runs)
    drain_all, drain_after = last_build - start, last_build - last_return
    floor = max(0.0, (math.ceil(len(pushed) / a.limit) - 1) * a.window)
    ok = exactly_once and not pending and not dead
    text = f"""# Buildkite: a burst of {len(pushed)} pushes across {a.repos} repos under a rate limit

`{" ".join(["python", "bench/bench_buildkite_burst.py", *(argv if argv is not None else sys.argv[1:])])}` on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, {platform.machine()}, {os.cpu_count()} CPUs (shared, load {os.getloadavg()[0]:.1f}).

Stand-in limit: {a.limit} requests per {a.window:g} s window (429 + RateLimit-* headers beyond it);
{a.concurrency} pushes at once over ssh, {a.pushes} per repo.

| measure | value |
|---|---:|
| pushes / builds created | {len(pushed)} / {len(builds)} |
| every push built exactly once, none pending or dead | {"yes" if ok else "NO"} (pending {len(pending)}, dead {len(dead)}) |
| first push started -> last build created | {drain_all:.1f} s |
| last push returned -> last build created (drain) | {drain_after:.1f} s |
| floor the limit sets ((ceil(builds/limit)-1) x window) | {floor:.0f} s |
| HTTP requests (by method and status) | {", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))} |
| requests per build | {len(received) / max(1, len(builds)):.2f} |
| 429 answers | {n429} |
| deliverer runs / their wake-ups (sleeps ended) | {len(runs)} / {wakeups} |
| wake-ups per second of drain | {wakeups / max(drain_all, 1e-9):.2f} |
"""
    print(text)
    if a.out:
        Path(a.out).write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
