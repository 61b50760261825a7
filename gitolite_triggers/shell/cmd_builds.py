"""``ssh git@host builds REPO [REF]``: the recent builds this server created for REPO.

For users who can read REPO (R at ``any``), anyone else gets gitolite's "repo does not
exist, or you are not authorised" (so it tells nothing about which repos exist). Number,
state, branch, short sha, URL and age, newest first, from the spool's records
(buildkite/recent.py), states refreshed from the API within a short deadline; a stale
answer says so. Loaded only when the command runs (the network path): ``info`` and
``help`` never import it.
"""

from __future__ import annotations

import sys

from gitolite_triggers.errors import Fatal
from gitolite_triggers.rc import Rc

NOT_AUTHORISED = "repo does not exist, or you are not authorised"
USAGE = """\
builds -- the recent Buildkite builds this server created for a repo.

Usage:  ssh git@host builds <repo> [<ref>]

Newest first: number, state, branch, short sha, URL, age. You need read access to <repo>.
"""


def readable_repo(rc: Rc, repo: str, user: str) -> None:
    """Refuse (one generic line) unless ``repo`` is a valid name ``user`` can read."""
    from gitolite_triggers.conf.errors import AccessError
    from gitolite_triggers.conf.query import access, is_denied
    from gitolite_triggers.names import repo_name_problem

    if repo_name_problem(repo):
        raise Fatal(NOT_AUTHORISED)
    try:
        if is_denied(access(rc, repo, user, "R", "any")):
            raise Fatal(NOT_AUTHORISED)
    except AccessError:
        raise Fatal(NOT_AUTHORISED) from None


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if not user:  # `gitolite builds` in the account's shell: no user to check rights for
        raise Fatal("GL_USER not set")
    if not args or len(args) > 2 or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 1 if not args or len(args) > 2 else 0
    repo, ref = args[0], (args[1] if len(args) == 2 else None)
    readable_repo(rc, repo, user)
    from gitolite_triggers.buildkite import recent
    from gitolite_triggers.glog import escape

    found = recent.rows(rc, repo, ref)
    if not found:
        sys.stdout.write(f"no builds of {repo}{' ' + escape(ref) if ref else ''} on record\n")
        return 0
    stale = recent.refresh(rc, repo, found)
    import time

    now = time.time()
    lines = []
    for r in found:
        number = f"#{r.number}" if r.number is not None else "-"
        lines.append(
            f"{number:>6}  {r.state:<12} {escape(r.branch)}  {r.sha}  "
            f"{r.url or '-'}  {recent.age(r.created, now)}\n"
        )
    if stale:
        lines.append(f"(states as recorded when each build was created: {stale})\n")
    sys.stdout.write("".join(lines))
    return 0
