#!/usr/bin/env python3
"""Logins at 10 to 100,000 keys: sshd's authorized_keys scan vs the key index (issue 14).

For each key count N, a sandboxed account gets N keys in keydir (N-1 generated ed25519
public keys, which sshd and ssh-keygen parse like any other, plus one real key pair, the
last in the file: the scan's worst case) and a one-repo conf. Measured, wall time of the
real commands:

- ``trigger POST_COMPILE`` (the 4 shipped programs: authorized_keys and the index);
- ``authorized-keys USER TYPE KEY`` through the account's lean launcher, process start
  included (what sshd runs per offered key);
- ``ssh info`` through a real sshd, two ways: "scan" (sshd reads authorized_keys as
  written with KEYS_IN_AUTHORIZED_KEYS true, no AuthorizedKeysCommand) and "index"
  (false: authorized_keys holds no key of ours; sshd asks the root-owned launcher of
  ``setup --sshd-config``). Every sshd runs at once and the runs go round robin, so a
  load change on a shared machine hits every figure alike;
- ``git ls-remote`` the same way, and a burst of ``--parallel`` (50) ls-remotes at once
  at the largest key count, both ways: median, p95, failures;
- the peak RSS of the first POST_COMPILE (``wait4``'s ru_maxrss).

Needs root (sshd; the launcher must sit in root-owned folders: a temp folder under /run).

Usage:
  .venv/bin/python bench/bench_keys.py --short      # 10 and 1,000 keys, few runs: ~10 s
  .venv/bin/python bench/bench_keys.py              # 10, 10,000, 100,000 keys: ~5 min
  options: --keys 10,10000,100000  --runs 30  --parallel 50  --out bench/results/keys.md
"""

from __future__ import annotations

import argparse
import base64
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitolite_triggers import launcher  # noqa: E402
from tests.support.server import Server, make_server  # noqa: E402
from tests.support.sshd import SshClient, Sshd, SshKey, make_key  # noqa: E402

CONF = "repo foo\n    RW+ = alice\n"


def fake_keys(n: int) -> list[str]:
    """n distinct ed25519 public key lines (random points: parsed, never used to log in)."""
    head = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
    return [
        f"ssh-ed25519 {base64.b64encode(head + os.urandom(32)).decode()} k{i}" for i in range(n)
    ]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB of the process and the children it waited for)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed: {err[-2000:]!r}")
    return took, usage.ru_maxrss / 1024


def prepare(base: Path, n: int, alice_pub: str) -> Server:
    server = make_server(base / f"home-{n}")
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text(CONF)
    kd = server.admin_base / "keydir"
    kd.mkdir()
    # keydir/x/NNN/kI.pub: a thousand files a folder, as big sites shard them
    for i, line in enumerate(fake_keys(n - 1)):
        sub = kd / "x" / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / f"k{i}.pub").write_text(line + "\n")
    (kd / "zz" / "alice.pub").parent.mkdir()
    (kd / "zz" / "alice.pub").write_text(alice_pub + "\n")
    r = server.cli("compile")
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return server


def post_compile(server: Server, keys_in_file: bool) -> tuple[float, float]:
    server.write_rc(f"KEYS_IN_AUTHORIZED_KEYS: {str(keys_in_file).lower()}\n", name="50-keys.yaml")
    return timed([sys.executable, "-m", "gitolite_triggers", "trigger", "POST_COMPILE"], server.env)


def lookup_median(server: Server, alice_pub: str, runs: int) -> float:
    script = launcher.write_shell_launcher(str(server.admin_base))
    me = pwd.getpwuid(os.getuid()).pw_name
    ktype, blob = alice_pub.split()[:2]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(
            [script, "authorized-keys", me, ktype, blob], env=server.env, capture_output=True
        )
        times.append(time.perf_counter() - t)
        if b" shell alice" not in r.stdout:
            raise RuntimeError(f"lookup found nothing: {r.stderr!r}")
    return statistics.median(times)


def ssh_median(client: SshClient, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.ssh("info")
        times.append(time.perf_counter() - t)
        if r.returncode != 0 or "hello alice" not in r.stdout:
            raise RuntimeError(f"ssh info failed: {r.stderr}")
    return statistics.median(times)


def prepare_both(
    base: Path, n: int, runs: int, alice_pub: str, root_dir: Path
) -> tuple[dict[str, float], Server, Path, str]:
    """POST_COMPILE and lookup figures for n keys; (row, server, scan copy, sshd lines).

    The scan's sshd reads a copy of authorized_keys with every key; the account's own file
    then loses our keys (KEYS_IN_AUTHORIZED_KEYS false) for the index's sshd.
    """
    server = prepare(base, n, alice_pub)
    row: dict[str, float] = {}
    # first run: writes everything
    row["post_compile_scan"], row["post_compile_rss"] = post_compile(server, True)
    row["post_compile_again"] = post_compile(server, True)[0]  # nothing changed
    row["lookup"] = lookup_median(server, alice_pub, runs)
    scan_copy = base / f"authorized_keys-{n}"
    shutil.copyfile(server.home / ".ssh" / "authorized_keys", scan_copy)
    row["post_compile_index"] = post_compile(server, False)[0]  # authorized_keys loses our keys
    launcher_path = root_dir / f"authorized-keys-{n}"
    r = server.cli(
        "setup", "--sshd-config", "--account", "root", "--home", str(server.home),
        "--launcher", str(launcher_path),
    )  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    extra = "".join(
        ln + "\n"
        for ln in r.stdout.splitlines()
        if ln.strip() and not ln.startswith(("#", "wrote"))
    )
    return row, server, scan_copy, extra


def ls_remote(client: SshClient) -> float:
    t = time.perf_counter()
    r = client.git("ls-remote", client.url("foo"))
    if r.returncode != 0:
        raise RuntimeError(f"git ls-remote failed: {r.stderr}")
    return time.perf_counter() - t


def burst(client: SshClient, parallel: int) -> tuple[float, float, int]:
    """``parallel`` git ls-remote at once: (median, p95, failures)."""
    argv = ["git", "ls-remote", client.url("foo")]
    env = client.env()
    procs = []
    for _ in range(parallel):
        start = time.perf_counter()
        procs.append((start, subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL)))  # fmt: skip
    times, failed = [], 0
    for start, proc in procs:
        failed += proc.wait(timeout=300) != 0
        times.append(time.perf_counter() - start)  # waited in start order: an upper bound
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], failed


def ssh_rounds(
    base: Path,
    setups: dict[int, tuple[Server, Path, str]],
    alice: SshKey,
    runs: int,
    parallel: int,
) -> dict[tuple[int, str], dict[str, float]]:
    """Per (keys, way): median ``ssh info`` and ``git ls-remote``, every sshd up at once and
    taken in turn, round by round (a load change on this shared machine then hits every
    line alike); then a burst of ``parallel`` ls-remotes at the largest key count."""
    servers: list[Sshd] = []
    clients: dict[tuple[int, str], SshClient] = {}
    try:
        for n, (server, scan_copy, extra) in setups.items():
            for way, kwargs in (
                ("scan", {"authorized_keys": scan_copy}),
                ("index", {"extra_config": extra}),
            ):
                sshd = Sshd(base / f"sshd-{way}-{n}", home=server.home, **kwargs).start()
                servers.append(sshd)
                clients[(n, way)] = SshClient(sshd, alice)
                ssh_median(clients[(n, way)], 1)  # known_hosts, warm caches
        info: dict[tuple[int, str], list[float]] = {k: [] for k in clients}
        lsr: dict[tuple[int, str], list[float]] = {k: [] for k in clients}
        for _ in range(runs):
            for key, client in clients.items():
                info[key].append(ssh_median(client, 1))
                lsr[key].append(ls_remote(client))
        out = {
            k: {"ssh": statistics.median(info[k]), "ls_remote": statistics.median(lsr[k])}
            for k in clients
        }
        if parallel:
            top = max(setups)
            for way in ("scan", "index"):
                med, p95, failed = burst(clients[(top, way)], parallel)
                out[(top, way)].update(burst_median=med, burst_p95=p95, burst_failed=failed)
        return out
    finally:
        for sshd in servers:
            sshd.stop()


def table(rows: dict[int, dict[str, float]], runs: int, parallel: int) -> str:
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    first = rows[min(rows)]
    out = [
        f"Medians of {runs} runs; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"load average {os.getloadavg()[0]:.2f}.",
        "",
        "| keys | `ssh info` scan / index | index − 10-key index | `git ls-remote` scan / index | "
        "`authorized-keys` lookup | POST_COMPILE first / again / index-only | its peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in sorted(rows.items()):
        out.append(
            f"| {n:,} | {ms(r['ssh_scan'])} / {ms(r['ssh_index'])} | "
            f"{(r['ssh_index'] - first['ssh_index']) * 1000:+.0f} ms | "
            f"{ms(r['ls_remote_scan'])} / {ms(r['ls_remote_index'])} | {ms(r['lookup'])} | "
            f"{r['post_compile_scan']:.2f} / {r['post_compile_again']:.2f} / "
            f"{r['post_compile_index']:.2f} s | {r['post_compile_rss']:.0f} MB |"
        )
    top = rows[max(rows)]
    if parallel and "burst_median_scan" in top:
        out += ["", f"{parallel} `git ls-remote` at once at {max(rows):,} keys:", ""]
        out += ["| way | median | p95 | failed |", "|---|---:|---:|---:|"]
        for way in ("scan", "index"):
            out.append(
                f"| {way} | {ms(top[f'burst_median_{way}'])} | {ms(top[f'burst_p95_{way}'])} | "
                f"{top[f'burst_failed_{way}']:.0f} |"
            )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--short", action="store_true", help="10 and 1,000 keys, 3 runs (smoke test)")
    p.add_argument("--keys", default="10,10000,100000", help="comma-separated key counts")
    p.add_argument("--runs", type=int, default=30, help="ssh/lookup runs per median")
    p.add_argument("--parallel", type=int, default=50, help="ls-remotes at once (0: none)")
    p.add_argument("--out", type=Path, help="also write the table to this file")
    ns = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_keys.py needs root (sshd, a root-owned launcher folder)", file=sys.stderr)
        return 2
    counts = [10, 1000] if ns.short else [int(k) for k in ns.keys.split(",")]
    runs = 3 if ns.short else ns.runs
    parallel = 5 if ns.short else ns.parallel
    base = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    root_dir = Path(tempfile.mkdtemp(prefix="gitolite-triggers-bench-", dir="/run"))
    try:
        alice = make_key(base / "client", "alice")
        rows: dict[int, dict[str, float]] = {}
        setups: dict[int, tuple[Server, Path, str]] = {}
        for n in counts:
            row, server, scan_copy, extra = prepare_both(base, n, runs, alice.pub, root_dir)
            rows[n], setups[n] = row, (server, scan_copy, extra)
            print(
                f"{n} keys (s, MB): " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()),
                flush=True,
            )
        for (n, way), got in ssh_rounds(base, setups, alice, runs, parallel).items():
            rows[n].update({f"{k}_{way}": v for k, v in got.items()})
        text = table(rows, runs, parallel)
        print(text)
        if ns.out:
            ns.out.write_text(text)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(root_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
