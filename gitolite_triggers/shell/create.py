"""Create a wild repo on a user's fetch or push (gitolite's ``new_wild_repo``).

PRE_CREATE (repo, user) -> ``git init --bare`` with our hooks -> ``gl-creator`` ->
POST_CREATE (repo, user). A failing PRE_CREATE stops before anything is created; a
failing POST_CREATE ends the session with its status (the repo stays, as in gitolite).
Two sessions creating the same repo at once: the one whose ``mkdir`` wins creates it and
fires the triggers; the other goes straight on to the access check.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.rc import Rc
from gitolite_triggers.runner import Options, fire


def write_creator(path: os.PathLike[str] | str, user: str) -> None:
    """``gl-creator`` holds the creator's name; written atomically."""
    target = os.path.join(path, "gl-creator")
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(user + "\n")
    os.replace(tmp, target)


def create_wild_repo(rc: Rc, repo: str, user: str, opts: Options) -> int:
    from gitolite_triggers.repos import init_bare

    status = fire(rc, "PRE_CREATE", repo, user, opts=opts)
    if status:
        print(
            f"FATAL: PRE_CREATE trigger refused creating '{repo}' (exit {status})", file=sys.stderr
        )
        return status
    from gitolite_triggers.repos import repo_path

    target = repo_path(rc, repo)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.mkdir()  # atomic claim: of two sessions creating the same repo, one wins
    except FileExistsError:
        return 0  # the other session creates it (and fires the triggers)
    path = init_bare(rc, repo)
    write_creator(path, user)
    return fire(rc, "POST_CREATE", repo, user, opts=opts)
