"""``gitolite-triggers compile``: compile gitolite.conf into the store, creating missing repos.

Like ``gitolite compile``: no POST_COMPILE (``setup`` and the admin push fire it). One
exception, the repair: when an admin push was accepted but its state is not wholly in
force (a drift record, or gl-last-good is not the admin repo's HEAD branch; see
docs/reliability.md), ``compile`` applies the branch's tip as the push would have,
POST_COMPILE included. It takes the admin lock, so it never runs inside an admin push.
Conf errors are printed as ``FATAL: file:line: message`` lines (recompile.compile_rules),
exit 1, and the last good compiled state stays in force. ``-v`` prints a one-line summary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gitolite_triggers.rc import load_rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.errors import Fatal


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
    from gitolite_triggers import adminpush
    from gitolite_triggers.recompile import compile_rules
    from gitolite_triggers.repos import ADMIN_REPO, repo_path

    git_dir = repo_path(rc, ADMIN_REPO)
    if git_dir.is_dir() and adminpush.needs_converge(rc):
        # an admin push was accepted but not (wholly) applied: apply the branch's tip
        return adminpush.converge(rc)
    lock = adminpush.admin_lock(git_dir) if git_dir.is_dir() else _no_lock()
    with lock:  # not in the middle of an admin push's stage or commit
        report, _ = compile_rules(rc, _not_compiled, post_compile=False)
    if verbose:
        print(
            f"compiled {report.repos} repos, {report.patterns} patterns, {report.rules} rules"
            f" in {report.seconds:.3f}s; created {len(report.created)}"
        )
    return 0


@contextlib.contextmanager
def _no_lock() -> Iterator[None]:
    yield


def _not_compiled(problem: str) -> Fatal:
    from gitolite_triggers.errors import Fatal, fatal_lines

    ending = "compile failed; the previous compiled rules stay in force"
    return Fatal(fatal_lines(*problem.splitlines(), ending))
