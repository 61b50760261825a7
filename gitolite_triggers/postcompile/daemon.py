"""``post-compile/update-git-daemon-access-list``: ``git-daemon-export-ok`` follows the rules.

git-daemon serves a repo only when ``<repo>.git/git-daemon-export-ok`` exists. The file
is created (empty) in every repo the user ``daemon`` can read, and removed from every
other repo, so ``repo @all / R = daemon`` exports everything and ``deny-rules``
carve exceptions, as in gitolite. Under POST_CREATE only the new repo is looked at.
One bulk ``readable()`` query and one stat per repo: no process per repo.
"""

from __future__ import annotations

import os

from gitolite_triggers.postcompile.common import guarded, parse_call, warn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.postcompile.plan import Plan
    from gitolite_triggers.rc import Rc

PROG = "update-git-daemon-access-list"
DAEMON_USER = "daemon"
EXPORT_OK = "git-daemon-export-ok"


def main(argv: list[str]) -> int:
    return guarded(PROG, _main, argv)


def _main(argv: list[str]) -> int:
    from gitolite_triggers.conf.query import readable
    from gitolite_triggers.rc import load_rc

    call = parse_call(argv)
    rc = load_rc()
    repos = call.repos(rc)
    allowed = readable(rc, DAEMON_USER, repos)
    base = rc.repo_base
    failed = 0
    for repo in repos:
        path = f"{base}/{repo}.git"  # plain strings: pathlib costs more than the work here
        flag = f"{path}/{EXPORT_OK}"
        try:
            if repo in allowed:
                if not os.path.exists(flag) and os.path.isdir(path):
                    os.close(os.open(flag, os.O_WRONLY | os.O_CREAT, 0o644))
            elif os.path.exists(flag):
                os.unlink(flag)
        except OSError as e:
            failed += 1
            warn(PROG, f"{flag}: {e.strerror}")
    return 1 if failed else 0


def stage(rc: Rc, plan: Plan, new_repos: list[str], staged_base: str) -> None:
    """An admin push's step: flags of live repos as plan ops; a new repo's flag is made in
    its staged folder (it goes live with the repo)."""
    from gitolite_triggers.conf.query import readable
    from gitolite_triggers.postcompile.common import on_base
    from gitolite_triggers.repos import physical_repos

    new = set(new_repos)
    live = [r for r in physical_repos(rc) if r not in new]
    allowed = readable(rc, DAEMON_USER, live)
    for repo in live:
        flag = f"{rc.repo_base}/{repo}.git/{EXPORT_OK}"
        if repo in allowed:
            if not os.path.exists(flag):
                plan.touch(flag)
        elif os.path.exists(flag):
            plan.unlink(flag)
    for repo in readable(on_base(rc, staged_base), DAEMON_USER, new_repos):
        os.close(os.open(f"{staged_base}/{repo}.git/{EXPORT_OK}", os.O_WRONLY | os.O_CREAT, 0o644))
