"""Create a wild repo on a user's fetch or push (gitolite's ``new_wild_repo``).

PRE_CREATE (repo, user) -> ``git init --bare`` with our hooks -> ``gl-creator`` ->
POST_CREATE (repo, user). A failing PRE_CREATE stops before anything is created; a
failing POST_CREATE ends the session with its status (the repo stays, as in gitolite).
Two sessions creating the same repo at once: the one whose ``mkdir`` of the repo dir wins
fires the triggers and creates it; the other waits until it is ready, then goes on to the
access check. A refusing PRE_CREATE leaves no directory behind.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from gitolite_triggers.rc import Rc
from gitolite_triggers.runner import Options, fire

CLAIM_WAIT_SECONDS = 10.0


def write_creator(path: os.PathLike[str] | str, user: str) -> None:
    """``gl-creator`` holds the creator's name; written atomically."""
    target = os.path.join(path, "gl-creator")
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(user + "\n")
    os.replace(tmp, target)


def _claim(target: Path) -> list[Path] | None:
    """Create ``target`` (and missing parents); None if another session already has it.

    Returns the directories made, deepest last, so a refused creation can remove them.
    """
    made = []
    for parent in reversed(target.parents):
        if not parent.exists():
            try:
                parent.mkdir()
                made.append(parent)
            except FileExistsError:
                pass
    try:
        target.mkdir()  # atomic: of two sessions creating the same repo, one wins
    except FileExistsError:
        return None
    return [*made, target]


def _unclaim(made: list[Path]) -> None:
    for d in reversed(made):
        try:
            d.rmdir()
        except OSError:
            break  # not empty: something else lives there now


def create_wild_repo(rc: Rc, repo: str, user: str, opts: Options) -> int:
    from gitolite_triggers.repos import init_bare, repo_path

    target = repo_path(rc, repo)
    made = _claim(target)
    if made is None:
        # The other session creates it and fires the triggers; wait (bounded) until it
        # has finished, so our access check sees the repo with its hooks and creator.
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        while not (target / "gl-creator").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return 0
    status = fire(rc, "PRE_CREATE", repo, user, opts=opts)
    if status:
        _unclaim(made)
        print(
            f"FATAL: PRE_CREATE trigger refused creating '{repo}' (exit {status})", file=sys.stderr
        )
        return status
    path = init_bare(rc, repo)
    write_creator(path, user)
    return fire(rc, "POST_CREATE", repo, user, opts=opts)
