#!/usr/bin/env python3
"""An admin push's wall time at 1,000 to 100,000 keys, and with a 10,000-repo conf.

Why: since issue 15 an admin push stages everything before the ref moves (adminstage.py);
this measures what that costs on a big site (issue 14), against another tree (the code
before the staging, ``git archive d6cb18b``) so the two are compared on the same machine
at the same time.

For each size, one sandboxed account per tree is set up (``setup``) and given, by one
admin push that is not timed, N keys (keydir/x/NNN/kI.pub, a thousand a folder, as big
sites shard them) or a conf of N repos. Then, alternating the trees, each run times the
real ``git push`` (receive-pack, our pre-receive/update/post-update hooks):

- ``conf``: a one-line conf change (one more rule line in an existing repo);
- ``key``: one new key file in keydir/.

Usage:
  .venv/bin/python bench/bench_admin_push.py --short          # 50 keys, 1 run: seconds
  .venv/bin/python bench/bench_admin_push.py --other /tmp/d6cb18b \\
      --keys 1000,10000,100000 --repos 10000 --runs 3 --out bench/results/admin_push.md
  (/tmp/d6cb18b: ``mkdir /tmp/d6cb18b && git -C /work/main archive d6cb18b | tar -x -C /tmp/d6cb18b``)
"""

from __future__ import annotations

import argparse
import base64
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

from tests.support.adminkeys import make_key  # noqa: E402
from tests.support.server import Server, make_server  # noqa: E402

BASE_CONF = "repo gitolite-admin\n    RW+ = admin\n\nrepo foo\n    RW+ = admin\n"


def fake_key(i: int) -> str:
    """One distinct ed25519 public key line (a random point: parsed, never used to log in)."""
    head = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
    return f"ssh-ed25519 {base64.b64encode(head + os.urandom(32)).decode()} k{i}\n"


def git(work: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=work, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {args} failed: {proc.stderr[-2000:]}")
    return proc.stdout


class Site:
    """One account running one tree's code, and the admin's clone."""

    def __init__(self, base: Path, tree: Path, label: str, admin_pub: Path) -> None:
        self.label = label
        home = base / f"home-{label}"
        self.server: Server = make_server(home)
        # the tree's own rc.d, and its package first on the path (the hooks' launchers
        # record where the package was imported from)
        shutil.rmtree(self.server.rc_d)
        shutil.copytree(tree / "gitolite_triggers" / "rc.d", self.server.rc_d)
        self.server.env["PYTHONPATH"] = str(tree)
        self.tree = tree
        r = self.server.cli("setup", "--pubkey", str(admin_pub))
        if r.returncode != 0:
            raise RuntimeError(f"{label}: setup failed: {r.stderr[-2000:]}")
        self.work = base / f"admin-{label}"
        git(base, self.server.env, "clone", "-q", str(self.repo), str(self.work))
        self.branch = git(self.work, self.server.env, "symbolic-ref", "--short", "HEAD").strip()
        self.extra = 0

    @property
    def repo(self) -> Path:
        return self.server.repo_base / "gitolite-admin.git"

    def push(self, message: str) -> float:
        """Commit everything and push it as the admin; the push's wall seconds."""
        env = self.server.env
        git(self.work, env, "add", "-A")
        git(self.work, env, "commit", "-q", "-m", message)
        push_env = {**env, "GL_USER": "admin", "GL_REPO": "gitolite-admin"}
        t = time.perf_counter()
        proc = subprocess.run(
            ["git", "push", "-q", "origin", f"HEAD:{self.branch}"],
            cwd=self.work,
            env=push_env,
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - t
        if proc.returncode != 0 or "FATAL" in proc.stderr or "WARNING" in proc.stderr:
            raise RuntimeError(f"{self.label}: push failed: {proc.stderr[-2000:]}")
        return took

    def populate(self, keys: int, repos: int) -> float:
        conf = self.work / "conf" / "gitolite.conf"
        text = BASE_CONF + "".join(f"\nrepo r{i}\n    RW+ = admin\n" for i in range(repos))
        conf.write_text(text)
        kd = self.work / "keydir"
        for i in range(keys):
            sub = kd / "x" / f"{i // 1000:03d}"
            if i % 1000 == 0:
                sub.mkdir(parents=True, exist_ok=True)
            (sub / f"k{i}.pub").write_text(fake_key(i))
        return self.push(f"{keys} keys, {repos} repos")

    def conf_change(self) -> float:
        self.extra += 1
        conf = self.work / "conf" / "gitolite.conf"
        conf.write_text(
            conf.read_text().replace("repo foo\n", f"repo foo\n    R = u{self.extra}\n")
        )
        return self.push("one more rule")

    def key_added(self) -> float:
        self.extra += 1
        (self.work / "keydir" / f"new{self.extra}.pub").write_text(fake_key(10**7 + self.extra))
        return self.push("one more key")

    def check(self) -> None:
        """The last push is in force: the rules and authorized_keys have its key and rule."""
        r = self.server.cli("access", "-q", "foo", f"u{self.extra - 1}", "R", "any")
        if r.returncode != 0:
            raise RuntimeError(f"{self.label}: the last conf change is not in force")
        ak = (self.server.home / ".ssh" / "authorized_keys").read_text()
        if f"new{self.extra}" not in ak:
            raise RuntimeError(f"{self.label}: the last key is not in authorized_keys")


def bench_size(
    base: Path, trees: list[tuple[str, Path]], keys: int, repos: int, runs: int, pub: Path
) -> dict[str, dict[str, float]]:
    sites = [Site(base / f"{keys}-{repos}", tree, label, pub) for label, tree in trees]
    row: dict[str, dict[str, float]] = {}
    for site in sites:
        row[site.label] = {"populate": site.populate(keys, repos)}
    times: dict[str, dict[str, list[float]]] = {s.label: {"conf": [], "key": []} for s in sites}
    for _ in range(runs):
        for site in sites:  # alternate, so load changes hit both trees alike
            times[site.label]["conf"].append(site.conf_change())
            times[site.label]["key"].append(site.key_added())
    for site in sites:
        site.check()
        row[site.label]["conf"] = statistics.median(times[site.label]["conf"])
        row[site.label]["key"] = statistics.median(times[site.label]["key"])
    for site in sites:
        shutil.rmtree(site.server.home, ignore_errors=True)
        shutil.rmtree(site.work, ignore_errors=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", default="1000,10000,100000", help="key counts, comma-separated")
    p.add_argument("--repos", default="10000", help="repo counts (with 1 key), or empty")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument(
        "--other",
        type=Path,
        action="append",
        default=[],
        help="another tree to compare (e.g. git archive d6cb18b); may be repeated",
    )
    p.add_argument("--short", action="store_true", help="50 keys and 20 repos, one run")
    p.add_argument("--out", type=Path)
    p.add_argument("--tmp", type=Path, help="where the accounts go (default: a temp folder)")
    args = p.parse_args(argv)
    sizes = [(int(k), 0) for k in args.keys.split(",") if k]
    sizes += [(0, int(r)) for r in args.repos.split(",") if r]
    runs = args.runs
    if args.short:
        sizes, runs = [(50, 0), (0, 20)], 1
    trees = [(f"other{i}", tree.resolve()) for i, tree in enumerate(args.other)]
    trees.append(("this", ROOT))
    names = {f"other{i}": str(tree) for i, tree in enumerate(args.other)}
    base = Path(tempfile.mkdtemp(prefix="bench-admin-push-", dir=args.tmp))
    lines = [
        "| size | tree | populate (s) | conf change (s) | key added (s) |",
        "|---|---|---:|---:|---:|",
    ]
    try:
        pub = make_key(base, "admin")
        for keys, repos in sizes:
            row = bench_size(base, trees, keys, repos, runs, pub)
            size = f"{keys:,} keys" if keys else f"{repos:,} repos"
            for label, fig in row.items():
                name = names.get(label, "this")
                lines.append(
                    f"| {size} | {name} | {fig['populate']:.2f} | {fig['conf']:.2f} | {fig['key']:.2f} |"
                )
                print(lines[-1], flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    text = f"runs: {runs} (median), load {os.getloadavg()[0]:.1f}\n\n" + "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
