"""``gitolite-triggers doctor [--fix]``: what is wrong with this server, and the fix.

Runs every check of ``gitolite_triggers.doctor`` and prints each problem with the
command that fixes it; exit 1 if there is any. ``--fix`` then runs the safe repairs
(re-link hooks, re-render authorized_keys, rebuild the rc cache, remove stale temp
files, compile, an empty gl-perms for a lost one), checks again, and exits 1 only if
something is still wrong. docs/admin.md ("doctor") lists the checks.
"""

from __future__ import annotations

import argparse
import sys

from gitolite_triggers.doctor import Problem
from gitolite_triggers.doctor.run import run_checks
from gitolite_triggers.rc import load_rc


def report(results: list[tuple[str, list[Problem]]]) -> int:
    """Print the problems; their number."""
    n = 0
    for name, problems in results:
        for p in problems:
            n += 1
            print(f"PROBLEM [{name}]: {p.what}")
            print(f"    fix: {p.fix}{'' if p.repair else '  (not done by --fix)'}")
    return n


def repair(results: list[tuple[str, list[Problem]]]) -> int:
    """Run every safe repair once (the same one shared by several problems runs once)."""
    failed = 0
    done: set[str] = set()
    for name, problems in results:
        for p in problems:
            if p.repair is None or p.fix in done and p.fix.endswith("compile"):
                continue
            done.add(p.fix)
            try:
                p.repair()
                print(f"fixed [{name}]: {p.what}")
            except Exception as e:  # one repair failing must not stop the others
                failed += 1
                print(f"FAILED to fix [{name}]: {p.what}: {type(e).__name__}: {e}")
    return failed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="gitolite-triggers doctor",
        description="Check the server (rc, rules vs the admin repo, authorized_keys, repo"
        " hooks and gl-perms, Buildkite deliveries, disk space, leftover temp files); print"
        " each problem with the command that fixes it; exit 1 if there is any.",
    )
    parser.add_argument("--fix", action="store_true", help="run the safe repairs, then check again")
    ns = parser.parse_args(argv)
    from gitolite_triggers.doctor import rcfiles

    rcfiles.observe()  # before load_rc, which rebuilds a damaged cache
    rc = load_rc()  # the last good rc, with a warning, while the rc is invalid
    rc.apply_process_settings()
    results = run_checks(rc)
    problems = report(results)
    if problems and ns.fix:
        repair(results)
        rcfiles.observe()
        rc = load_rc()
        results = run_checks(rc)
        problems = report(results)
        if problems:
            print(f"{problems} problem(s) left after --fix", file=sys.stderr)
            return 1
        print("doctor: all fixed")
        return 0
    if problems:
        print(
            f"{problems} problem(s); `gitolite-triggers doctor --fix` does the safe fixes",
            file=sys.stderr,
        )
        return 1
    print("doctor: no problems found")
    return 0
