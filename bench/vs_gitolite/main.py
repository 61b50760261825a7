"""``bench/run_vs_gitolite.py``: set everything up, run the measures, write the results.

Steps: make sure gitolite3 is installed; create/point the three accounts at a fresh run
directory; install gitolite-triggers where its account can run it; one set of keys; set
up both systems with the same admin key; start one sshd; then per conf size: compile
(cold, warm), POST_COMPILE, access, ls-remote/clone/push; then the trigger runner; stop
sshd by its pid; write bench/results/.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from vs_gitolite import measures, report
from vs_gitolite.accounts import Account, chown_tree, ensure_account
from vs_gitolite.confgen import ADMIN, TARGET_REPO, make_keys, shape_for
from vs_gitolite.pyenv import REPO_ROOT, ours_bindir
from vs_gitolite.results import Row
from vs_gitolite.sides import GITOLITE_BINDIR, Gitolite, Ours, Side
from vs_gitolite.sshd import BenchSshd, Client

LOGINS = {"gitolite": "glbench-gitolite", "ours": "glbench-ours", "floor": "glbench-floor"}
AUTH_OPTIONS = "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_vs_gitolite.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: small sizes, few runs (results go to bench/results/tmp/)",
    )
    p.add_argument(
        "--sizes", help="comma-separated repo counts (default 1000,10000; --quick: 30,100)"
    )
    p.add_argument("--users", type=int, help="users = keys in keydir (default 100; --quick: 10)")
    p.add_argument("--reps", type=int, help="runs per fast measure (default 15; --quick: 3)")
    p.add_argument(
        "--fetch-reps",
        type=int,
        help="ls-remote runs per system, for the wrapper overhead (default 60; --quick: 3): "
        "one ssh round trip varies by ~20 ms, the overhead is ~15-45 ms of it",
    )
    p.add_argument(
        "--compile-reps",
        type=int,
        help="warm compile and POST_COMPILE runs (default 5; --quick: 2)",
    )
    p.add_argument(
        "--cold-reps",
        type=int,
        help="cold compile runs (default 3, 2 at the largest size; --quick: 1)",
    )
    p.add_argument("--only", choices=["gitolite", "ours"], help="run one system only (no ratios)")
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path("/var/tmp/glbench"),
        help="accounts' homes, keys, venv (default /var/tmp/glbench)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=Path("/var/tmp/glbench/cache"),
        help="keys and the accounts' venv, kept between runs (default /var/tmp/glbench/cache)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="results folder (default bench/results, --quick: bench/results/tmp)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="after the run, profile ours on the state it left (bench/results/profile-raw.md)",
    )
    p.add_argument(
        "--profile-only",
        action="store_true",
        help="only profile ours on the state the last run left in --workdir",
    )
    p.add_argument("--stem", default="vs_gitolite", help="results file name stem")
    ns = p.parse_args(argv)
    quick = ns.quick
    ns.sizes = [int(x) for x in (ns.sizes or ("30,100" if quick else "1000,10000")).split(",")]
    ns.users = ns.users or (10 if quick else 100)
    ns.reps = ns.reps or (3 if quick else 15)
    ns.fetch_reps = ns.fetch_reps or (3 if quick else 60)
    ns.compile_reps = ns.compile_reps or (2 if quick else 5)
    ns.out = ns.out or (REPO_ROOT / "bench" / "results" / ("tmp" if quick else ""))
    return ns


def log(text: str) -> None:
    print(text, flush=True)


def ensure_gitolite() -> str:
    """Install Debian's gitolite3 if missing; return its version."""
    if not (shutil.which("gitolite") and (GITOLITE_BINDIR / "gitolite-shell").exists()):
        log("installing gitolite3 with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "gitolite3"], check=True, env=env)
    return (GITOLITE_BINDIR / "VERSION").read_text().strip()


def make_floor(account: Account, admin_pub: Path) -> None:
    """git-shell is the floor account's login shell; its key has no forced command."""
    ssh = account.home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    (ssh / "authorized_keys").write_text(f"{AUTH_OPTIONS} {admin_pub.read_text().strip()}\n")
    (ssh / "authorized_keys").chmod(0o600)
    chown_tree(ssh, account)
    target = account.home / "repositories" / f"{TARGET_REPO}.git"
    target.parent.mkdir(parents=True, exist_ok=True)
    chown_tree(account.home / "repositories", account)
    account.run(["git", "init", "-q", "--bare", str(target)])


def run(ns: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise SystemExit(
            "run_vs_gitolite.py must run as root (it creates accounts and starts sshd)"
        )
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]
    gitolite_version = ensure_gitolite()
    workdir = ns.workdir.resolve()
    cache, rundir = ns.cache.resolve(), workdir / "run"
    for d in (workdir, cache):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    _lock_or_exit()
    if rundir.exists():
        shutil.rmtree(rundir)
    rundir.mkdir(mode=0o755)
    rundir.chmod(0o755)
    accounts = {
        "gitolite": ensure_account(LOGINS["gitolite"], rundir / "gitolite", "/bin/sh"),
        "ours": ensure_account(LOGINS["ours"], rundir / "ours", "/bin/sh"),
        "floor": ensure_account(LOGINS["floor"], rundir / "floor", "/usr/bin/git-shell"),
    }
    shapes = [shape_for(n, ns.users) for n in ns.sizes]
    keys = make_keys(cache / f"keys-{ns.users}", shapes[0])
    for path in keys.values():
        path.chmod(0o600)
    admin_pub = keys[ADMIN].with_suffix(".pub")

    sides: list[Side] = []
    if ns.only in (None, "gitolite"):
        sides.append(Gitolite("gitolite", accounts["gitolite"]))
    if ns.only in (None, "ours"):
        ours = Ours("ours", accounts["ours"])
        ours.bindir = ours_bindir(accounts["ours"], cache, log=log)
        sides.append(ours)
    for side in sides:
        log(f"setting up {side.label} in {side.home}")
        side.setup(admin_pub)
    make_floor(accounts["floor"], admin_pub)

    rows: list[Row] = []
    big = max(ns.sizes)
    client_dir = rundir / "client"
    client_dir.mkdir()
    sshd = BenchSshd(rundir / "sshd", [LOGINS[k] for k in ("gitolite", "ours", "floor")])
    sshd.start()
    log(f"sshd pid {sshd.pid} on 127.0.0.1:{sshd.port}")
    try:
        client_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("GL_", "GIT_", "SSH_"))
        }
        client_env["HOME"] = str(client_dir)
        clients = {s.label: Client(sshd, keys[ADMIN], LOGINS[s.label], client_env) for s in sides}
        clients["floor"] = Client(sshd, keys[ADMIN], LOGINS["floor"], client_env)
        url_for = {s.label: clients[s.label].url(TARGET_REPO) for s in sides}
        url_for["floor"] = clients["floor"].url(
            str(accounts["floor"].home / "repositories" / f"{TARGET_REPO}.git")
        )
        for shape in shapes:
            log(f"== {shape.repos} repos, {shape.users} users, {shape.teams} teams")
            cold_reps = ns.cold_reps or (
                1 if ns.quick else (2 if shape.repos == big and len(ns.sizes) > 1 else 3)
            )
            rows += measures.compile_rows(sides, shape, keys, cold_reps, ns.compile_reps, big, log)
            for side in sides:
                measures.check_authorized_keys(side)
            rows += measures.access_rows(sides, shape, ns.reps, big, log)
            rows += measures.ssh_rows(
                clients, url_for, client_dir, shape.repos, ns.reps, big, log, ns.fetch_reps
            )
        log("== trigger runner")
        rows += measures.runner_rows(sides, ns.reps, big, log)
    finally:
        sshd.stop()
        log("sshd stopped")
    rows = _ordered(rows)
    meta = {
        "started": started,
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "gitolite_version": gitolite_version,
        "git_version": subprocess.run(
            ["git", "--version"], capture_output=True, text=True
        ).stdout.split()[-1],
        "python_version": _ours_python(sides),
        "mode": "quick" if ns.quick else "full",
        "command": " ".join([".venv/bin/python", "bench/run_vs_gitolite.py", *sys.argv[1:]]),
        "sizes": ns.sizes,
        "users": ns.users,
        "reps": ns.reps,
        "fetch_reps": ns.fetch_reps,
        "platform": platform.platform(),
        "seconds": round(time.monotonic() - t0, 1),
        "loadavg_at_start": load_start,
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    paths = report.write(ns.out, ns.stem, rows, meta, log=log)
    log(report.markdown(rows, meta))
    log("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


_LOCK = Path("/run/glbench.lock")


def _lock_or_exit() -> None:
    """One run at a time: the accounts (and their homes) are shared by every run."""
    import fcntl

    fd = os.open(_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"another run_vs_gitolite.py is running (lock {_LOCK}); try again later"
        ) from None
    globals()["_lock_fd"] = fd  # held until the process exits


def _ordered(rows: list[Row]) -> list[Row]:
    """Group rows by measure (all sizes together), in the issue's order."""
    order: list[str] = []
    for row in rows:
        if row.measure not in order:
            order.append(row.measure)
    return sorted(rows, key=lambda r: (order.index(r.measure), r.size or 0))


def _ours_python(sides: list[Side]) -> str:
    for side in sides:
        if isinstance(side, Ours):
            out = side.timed(
                [
                    str(side.bindir / "python"),
                    "-c",
                    "import platform; print(platform.python_version())",
                ]
            )
            return out.stdout.strip()
    return "-"


def run_profile(ns: argparse.Namespace) -> int:
    from vs_gitolite.profile_ours import profile

    workdir = ns.workdir.resolve()
    account = Account(LOGINS["ours"], workdir / "run" / "ours", "/bin/sh")
    bindir = ours_bindir(account, ns.cache.resolve(), log=log)
    profile(workdir, REPO_ROOT / "bench" / "results" / "profile-raw.md", bindir, log=log)
    return 0


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    if ns.profile_only:
        _lock_or_exit()
        return run_profile(ns)
    status = run(ns)
    if status == 0 and ns.profile and ns.only != "gitolite":
        return run_profile(ns)
    return status
