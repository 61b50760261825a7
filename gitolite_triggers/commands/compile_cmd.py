"""``gitolite-triggers compile``: compile gitolite.conf into the store, creating missing repos.

Like ``gitolite compile``: no POST_COMPILE (``setup`` and the admin push fire it).
Conf errors are printed as ``file:line: message`` lines, exit 1, and the last good
compiled state stays in force. ``-v`` prints a one-line summary.
"""

from __future__ import annotations

import sys

from gitolite_triggers.rc import load_rc


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="gitolite-triggers compile",
        description="Compile gitolite.conf into the rules store and create missing repos"
        " (no POST_COMPILE: setup and the admin push fire it). On a conf error the last good"
        " rules stay in force and the exit status is 1.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print a one-line summary when done"
    )
    verbose = parser.parse_args(argv).verbose
    rc = load_rc()
    rc.apply_process_settings()
    from gitolite_triggers.conf.compile import compile_conf
    from gitolite_triggers.conf.errors import ConfError

    try:
        report = compile_conf(rc)
    except ConfError as e:
        for line in str(e).splitlines():
            print(f"FATAL: {line}", file=sys.stderr)
        print("FATAL: compile failed; the previous compiled rules stay in force", file=sys.stderr)
        return 1
    for w in report.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    if verbose:
        print(
            f"compiled {report.repos} repos, {report.patterns} patterns, {report.rules} rules"
            f" in {report.seconds:.3f}s; created {len(report.created)}"
        )
    return 0
