#!/usr/bin/env python3
"""Push returned -> build created on the stand-in: median and p95 over N pushes.

One sandboxed server account behind a real sshd on 127.0.0.1, a Buildkite section
pointing at the stand-in (gitolite_triggers/demo/standin.py, in this process), production
timings. Each push is one new commit over ssh (wrapper, hooks, POST_GIT, the detached
deliverer it kicks); we take the wall-clock time when ``git push`` returns and the time
the stand-in received the POST that created that commit's build, and report the
difference. The issue's bar: median under 0.15 s.

Usage: .venv/bin/python bench/bench_buildkite_latency.py [-n 20] [--out FILE]
(tests/test_bench_buildkite_ops_smoke.py runs it with -n 3.)
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import Server, make_server  # noqa: E402
from tests.support.sshd import SshClient, Sshd, install_keys, make_key  # noqa: E402
from tests.support.standin import ORG, PIPELINE, TOKEN, running_standin  # noqa: E402


def make_account(base: Path, api_url: str, repos: list[str]) -> tuple[Server, Sshd, SshClient]:
    """An account with ``repos`` (alice RW+), its buildkite rc on ``api_url``, its sshd."""
    srv = make_server(base / "home")
    admin, alice = make_key(base / "keys", "admin"), make_key(base / "keys", "alice")
    (base / "admin.pub").write_text(admin.pub + "\n")
    run = {"env": srv.env, "cwd": srv.home, "check": True, "capture_output": True}
    subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "setup", "-pk", str(base / "admin.pub")], **run
    )  # type: ignore[call-overload]
    tf = srv.home / ".buildkite-token"
    tf.write_text(TOKEN)
    tf.chmod(0o600)
    srv.write_rc(
        "buildkite:\n"
        f"  api_url: {api_url}\n"
        "  token_file: ~/.buildkite-token\n"
        "  pipelines:\n"
        f'    - repos: ".*"\n      org: {ORG}\n      pipeline: {PIPELINE}\n',
        name="50-buildkite.yaml",
    )
    conf = "repo gitolite-admin\n    RW+ = admin\n\n" + "".join(
        f"repo {r}\n    RW+ = alice\n\n" for r in repos
    )
    (srv.admin_base / "conf" / "gitolite.conf").write_text(conf)
    subprocess.run([sys.executable, "-m", "gitolite_triggers", "compile"], **run)  # type: ignore[call-overload]
    install_keys(srv, [alice])
    sshd = Sshd(base / "sshd", home=srv.home).start()
    return srv, sshd, SshClient(sshd, alice)


def clone(client: SshClient, repo: str, work: Path) -> None:
    subprocess.run(
        ["git", "clone", "-q", client.url(repo), str(work)],
        env=client.env(),
        check=True,
        capture_output=True,
    )
    subprocess.run(["git", "-C", str(work), "checkout", "-q", "-b", "main"], check=True)


def push_commit(client: SshClient, work: Path, message: str) -> tuple[str, float]:
    """Commit, push; return (sha, time.time() when the push returned)."""
    env = client.env()
    subprocess.run(
        ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", message],
        env=env,
        check=True,
    )
    sha = subprocess.run(
        ["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    r = subprocess.run(
        ["git", "-C", str(work), "push", "-q", "origin", "main"],
        env=env,
        capture_output=True,
        text=True,
    )
    returned = time.time()
    if r.returncode != 0:
        raise SystemExit(f"push failed: {r.stderr}")
    return sha, returned


def created_at(si: Any, sha: str, timeout: float = 30.0) -> float:
    """When the stand-in received the POST that created ``sha``'s build."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in si.received():
            if (
                e["method"] == "POST"
                and e["status"] == 201
                and (e["body"] or {}).get("commit") == sha
            ):
                return float(e["time"])
        time.sleep(0.005)
    raise SystemExit(f"no build for {sha} within {timeout}s")


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[18] if len(xs) > 1 else xs[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="pushes to time (after one warm-up)")
    ap.add_argument("--out", default="", help="also write the result (markdown) here")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-bk-lat-"))
    lat: list[float] = []
    with running_standin() as si:
        srv, sshd, client = make_account(tmp, si.api_url, ["foo"])  # type: ignore[attr-defined]
        try:
            work = tmp / "work"
            clone(client, "foo", work)
            for i in range(-1, a.n):  # -1: warm-up (creates main, warms caches)
                sha, returned = push_commit(client, work, f"latency {i}")
                made = created_at(si, sha)
                if i >= 0:
                    lat.append(made - returned)
        finally:
            sshd.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    med, p = statistics.median(lat), p95(lat)
    verdict = "PASS" if med < 0.15 else "FAIL"
    load = os.getloadavg()[0]
    text = f"""# Buildkite: push returned -> build created

`{" ".join(["python", "bench/bench_buildkite_latency.py", *(argv if argv is not None else sys.argv[1:])])}` on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, {platform.machine()}, {os.cpu_count()} CPUs (shared, load {load:.1f}), Python {platform.python_version()}.

{a.n} pushes (one new commit each, over ssh to a real sshd on 127.0.0.1), each timed from
`git push` returning to the stand-in receiving the POST that created its build:
median {med * 1000:.0f} ms, p95 {p * 1000:.0f} ms, min {min(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms.
Bar: median < 150 ms: **{verdict}**.
"""
    print(text)
    if a.out:
        Path(a.out).write_text(text)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
