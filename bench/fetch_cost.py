"""One fetch through the forced command's lean launcher, no ssh: modules loaded and time.

    .venv/bin/python bench/fetch_cost.py [--runs 60] [TREE ...]

Each TREE is a checkout with its own ``.venv`` (default: this one). For each, a throwaway
account (``setup`` in a temp HOME, one repo) serves ``git-upload-pack 'foo'`` with the
client's flush packet on stdin, through the launcher ``setup`` wrote, exactly as sshd
would start it. Prints the number of modules the session imported (``-X importtime``)
and the median and minimum wall time. Give two trees (say a worktree of an older commit
and this one) to compare a change on the hot path; trees are alternated run by run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare(tree: Path, base: Path) -> tuple[list[str], dict[str, str], str]:
    """A set-up account for ``tree``: (launcher argv, environment, home)."""
    py = str(tree / ".venv" / "bin" / "python")
    home = tempfile.mkdtemp(prefix="fetch-cost-", dir=base)
    env = {"HOME": home, "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    key = f"{home}/admin"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    cli = [py, "-m", "gitolite_triggers"]
    subprocess.run(
        [*cli, "setup", "--pubkey", key + ".pub"],
        env=env,
        check=True,
        cwd=home,
        capture_output=True,
    )
    with open(f"{home}/.gitolite/conf/gitolite.conf", "a") as f:
        f.write("repo foo\n    RW+ = alice\n")
    subprocess.run([*cli, "compile"], env=env, check=True, capture_output=True, cwd=home)
    launcher = f"{home}/.gitolite/bin/gitolite-triggers"
    with open(launcher) as f:
        shebang = f.readline()[2:].split()
    env = {
        **env,
        "SSH_ORIGINAL_COMMAND": "git-upload-pack 'foo'",
        "SSH_CONNECTION": "127.0.0.1 1 127.0.0.1 22",
    }
    return [*shebang, launcher, "shell", "alice"], env, home


def modules(argv: list[str], env: dict[str, str], home: str) -> list[str]:
    r = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        env=env,
        input=b"0000",
        capture_output=True,
        cwd=home,
        check=True,
    )
    lines = r.stderr.decode().splitlines()
    return [ln.split("|")[-1].strip() for ln in lines if ln.startswith("import time:")][1:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=60, help="timed fetches per tree (default 60)")
    ap.add_argument("trees", nargs="*", type=Path, default=[ROOT], help="checkouts with a .venv")
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fetch-cost-") as base:
        setups = [prepare(t.resolve(), Path(base)) for t in ns.trees]
        times: list[list[float]] = [[] for _ in setups]
        for _ in range(ns.runs):
            for i, (argv, env, home) in enumerate(setups):
                t = time.perf_counter()
                subprocess.run(
                    argv, env=env, input=b"0000", capture_output=True, cwd=home, check=True
                )
                times[i].append(time.perf_counter() - t)
        for tree, (argv, env, home), ts in zip(ns.trees, setups, times, strict=True):
            mods = modules(argv, env, home)
            print(
                f"{tree}: {len(mods)} modules, median {statistics.median(ts) * 1000:.1f} ms, "
                f"min {min(ts) * 1000:.1f} ms over {ns.runs} fetches"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
