#!/usr/bin/env python3
"""Push latency with a 5 s-slow Buildkite endpoint vs no Buildkite configured.

Two sandboxed server accounts, each behind its own real sshd on 127.0.0.1, identical
except that B has a ``buildkite`` section whose pipeline lives on the stand-in
(contrib/buildkite_standin.py) with every build POST slowed to ``--slow`` seconds;
A has none (the shipped registration is there but inert). Pushes (one new commit each,
through ssh, the wrapper, the hooks, POST_GIT) alternate A, B, A, B ... so noise hits
both alike; we report median / mean / p90 wall time of ``git push`` per account and the
difference. The issue's bar: B within 100 ms of A.

Afterwards it waits (up to --drain seconds) for B's builds to arrive, to show the
detached deliverer really did the slow work after the pushes had returned.

Usage: .venv/bin/python bench/bench_buildkite.py [-n 15] [--slow 5] [--out bench/results/buildkite.md]
"""

from __future__ import annotations

import argparse
import os
import platform
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
from tests.support.sshd import SshClient, Sshd, install_keys, make_key  # noqa: E402
from tests.support.standin import ORG, PIPELINE, TOKEN, bk_rc, running_standin  # noqa: E402

CONF = "repo gitolite-admin\n    RW+ = admin\n\nrepo foo\n    RW+ = alice\n"
PIPES = f'    - repos: "foo"\n      org: {ORG}\n      pipeline: {PIPELINE}\n'


def account(base: Path, api_url: str | None) -> tuple[Sshd, SshClient, Path]:
    srv = make_server(base / "home")
    admin, alice = make_key(base / "keys", "admin"), make_key(base / "keys", "alice")
    (base / "admin.pub").write_text(admin.pub + "\n")
    subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "setup", "-pk", str(base / "admin.pub")],
        env=srv.env,
        cwd=srv.home,
        check=True,
        capture_output=True,
    )
    if api_url:
        tf = srv.home / ".buildkite-token"
        tf.write_text(TOKEN)
        tf.chmod(0o600)
        srv.write_rc(
            # production timings except the read timeout (the endpoint is slow on purpose)
            bk_rc(api_url, PIPES, extra="  token_file: ~/.buildkite-token\n")
            .replace("read_timeout: 1", "read_timeout: 30")
            .replace("  start_delay: 0\n", ""),
            name="50-buildkite.yaml",
        )
    (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
    subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "compile"],
        env=srv.env,
        cwd=srv.home,
        check=True,
        capture_output=True,
    )
    install_keys(srv, [alice])
    sshd = Sshd(base / "sshd", home=srv.home).start()
    client = SshClient(sshd, alice)
    work = base / "work"
    subprocess.run(
        ["git", "clone", "-q", client.url("foo"), str(work)],
        env=client.env(),
        check=True,
        capture_output=True,
    )
    subprocess.run(["git", "-C", str(work), "checkout", "-q", "-b", "main"], check=True)
    return sshd, client, work


def push_once(client: SshClient, work: Path, i: int) -> float:
    env = client.env()
    subprocess.run(
        ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", f"bench {i}"],
        env=env,
        check=True,
    )
    t = time.perf_counter()
    r = subprocess.run(
        ["git", "-C", str(work), "push", "-q", "origin", "main"],
        env=env,
        capture_output=True,
        text=True,
    )
    ms = (time.perf_counter() - t) * 1000
    if r.returncode != 0:
        raise SystemExit(f"push failed: {r.stderr}")
    return ms


def summary(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=10)
    return statistics.median(xs), statistics.mean(xs), q[8]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=15, help="pushes per account")
    ap.add_argument(
        "--slow", type=float, default=5.0, help="seconds the stand-in takes per build POST"
    )
    ap.add_argument(
        "--drain",
        type=float,
        default=0,
        help="seconds to wait for B's builds afterwards (default n*slow+10)",
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "buildkite.md"))
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bk-"))
    with running_standin() as si:
        si.add_fault("slow", seconds=a.slow, times=10**6)
        sshd_a, ca, wa = account(tmp / "a", None)
        sshd_b, cb, wb = account(tmp / "b", si.api_url)
        try:
            push_once(ca, wa, -1), push_once(cb, wb, -1)  # warm-up (first push creates main)
            ta, tb = [], []
            for i in range(a.n):
                ta.append(push_once(ca, wa, i))
                tb.append(push_once(cb, wb, i))
            received_during = len([e for e in si.received() if e["method"] == "POST"])
            drain = a.drain or a.n * a.slow + 15
            deadline = time.monotonic() + drain
            while len(si.builds()) < a.n + 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            built = len(si.builds())
        finally:
            sshd_a.stop()
            sshd_b.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    (ma, mea, pa), (mb, meb, pb) = summary(ta), summary(tb)
    verdict = "PASS" if mb - ma <= 100 else "FAIL"
    text = f"""# Buildkite: push latency with a slow endpoint

`{" ".join(["python", "bench/bench_buildkite.py", *sys.argv[1:]])}` on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
{platform.machine()} with {os.cpu_count()} CPUs (shared), Python {platform.python_version()}, {subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()}.

Each figure: `git push` of one new commit over ssh to a real sshd on 127.0.0.1
(wrapper, hooks, POST_GIT included), {a.n} pushes per account, alternating A and B.
B's Buildkite stand-in answers every build POST after {a.slow:g} s.

| account | median ms | mean ms | p90 ms |
|---|---:|---:|---:|
| A: no Buildkite configured | {ma:.0f} | {mea:.0f} | {pa:.0f} |
| B: Buildkite, endpoint {a.slow:g} s slow | {mb:.0f} | {meb:.0f} | {pb:.0f} |
| B - A | {mb - ma:+.0f} | {meb - mea:+.0f} | {pb - pa:+.0f} |

Median of the paired differences (push i of B minus push i of A, run back to back):
{statistics.median(b - x for x, b in zip(ta, tb, strict=True)):+.0f} ms.

Bar: B within 100 ms of A (median): **{verdict}**.
Build POSTs the stand-in had received when the last push returned: {received_during}
(the deliverer works one build at a time, {a.slow:g} s each, after the pushes returned);
builds created after draining: {built} of {a.n + 1}.
"""
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
