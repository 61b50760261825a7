"""``partial-copy`` (PRE_GIT): sync a partial copy's refs before each git command on it.

gitolite's trigger of that name; the work is ``partialcopy.sync`` (docs/conf.md, "Partial
copies"). ``rc import`` lists it under PRE_GIT when the Perl rc ENABLEs ``partial-copy``.
"""

from __future__ import annotations

import os

from gitolite_triggers.errors import Fatal
from gitolite_triggers.postcompile.common import guarded, parse_call

PROG = "partial-copy"


def main(argv: list[str]) -> int:
    """``[rc args] PRE_GIT repo user aa any git-cmd``."""
    return guarded(PROG, _main, argv)


def _main(argv: list[str]) -> int:
    from gitolite_triggers.names import is_user_name, repo_name_problem
    from gitolite_triggers.partialcopy import sync
    from gitolite_triggers.rc import load_rc

    call = parse_call(argv)
    if len(call.args) < 2:
        raise Fatal("usage: partial-copy PRE_GIT REPO USER ...")
    repo, user = call.args[0], call.args[1]
    if repo_name_problem(repo) or not is_user_name(user):
        raise Fatal(f"bad repo or user name ({repo!r}, {user!r})")
    rc = load_rc()
    if os.path.isdir(f"{rc.repo_base}/{repo}.git"):
        sync(rc, repo, user)
    return 0
