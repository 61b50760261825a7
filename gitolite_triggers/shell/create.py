"""Create a wild repo on a user's fetch or push (gitolite's ``new_wild_repo``).

PRE_CREATE (repo, user) -> ``git init --bare`` with our hooks -> ``gl-creator`` ->
POST_CREATE (repo, user). A failing PRE_CREATE stops before anything is created (a
``Fatal`` refusal: the session ends with its status); a
failing POST_CREATE ends the session with its status (the repo stays, as in gitolite).
Creation holds an exclusive ``flock`` on the parent folder and builds the repo under a
hidden name that is renamed into place, so of two sessions creating the same repo at once
exactly one fires the triggers and creates it, the other finds it complete, and no
session ever sees a half-made repo. A refusing PRE_CREATE leaves no directory behind.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from gitolite_triggers.errors import Fatal
from gitolite_triggers.rc import Rc
from gitolite_triggers.runner import Options, fire


def write_creator(path: os.PathLike[str] | str, user: str, newline: bool = False) -> None:
    """``gl-creator`` holds the creator's name; written atomically. Byte for byte as
    gitolite writes it (t/fork.t compares checksums): no newline for a created repo, one
    for a fork; readers take either."""
    from gitolite_triggers.atomicfile import AS_OPEN, write_atomic

    text = user + "\n" if newline else user
    write_atomic(os.path.join(path, "gl-creator"), text.encode("utf-8"), AS_OPEN, fsync=False)


def _make_parents(target: Path) -> list[Path]:
    """Create the missing parents of ``target``; return the ones made, outermost first."""
    made = []
    for parent in reversed(target.parents):
        if not parent.exists():
            try:
                parent.mkdir()
                made.append(parent)
            except FileExistsError:
                pass
    return made


def _remove_empty(made: list[Path]) -> None:
    for d in reversed(made):
        try:
            d.rmdir()
        except OSError:
            break  # not empty: something else lives there now


def create_wild_repo(rc: Rc, repo: str, user: str, opts: Options) -> tuple[int, bool]:
    """Create ``repo`` for ``user``; return (status, whether this session created it)."""
    from gitolite_triggers.names import repo_name_problem
    from gitolite_triggers.repos import init_bare, inside_repo_base, repo_path

    problem = repo_name_problem(repo)
    if problem:  # the SOC and the access check refuse these first; never make a folder for one
        raise Fatal(f"cannot create '{repo}': it {problem}")
    target = repo_path(rc, repo)
    if not inside_repo_base(rc, target):  # a symlinked folder in the base leads elsewhere
        raise Fatal(f"repo '{repo}' resolves outside the repo base; refused")
    made = _make_parents(target)
    lock = os.open(target.parent, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one creator per folder at a time
        if os.path.lexists(target):
            return 0, False  # a concurrent session created it while we waited
        status = fire(rc, "PRE_CREATE", repo, user, opts=opts)
        if status:
            _remove_empty(made)
            raise Fatal(f"PRE_CREATE trigger refused creating '{repo}' (exit {status})", status)
        # Build it under a hidden name, then rename: nobody ever sees a half-made repo.
        leaf = repo.rsplit("/", 1)
        hidden = f".{leaf[-1]}.creating-{os.getpid()}"
        tmp_repo = f"{leaf[0]}/{hidden}" if len(leaf) == 2 else hidden
        try:
            path = init_bare(rc, tmp_repo)
            write_creator(path, user)
            os.rename(path, target)
        except BaseException:
            shutil.rmtree(repo_path(rc, tmp_repo), ignore_errors=True)
            raise
    finally:
        os.close(lock)
    from gitolite_triggers.repos import initialized_line

    # gitolite shows git's line, so a mistyped clone URL does not create a repo unnoticed
    os.write(2, (initialized_line(target) + "\n").encode())
    return fire(rc, "POST_CREATE", repo, user, opts=opts), True
