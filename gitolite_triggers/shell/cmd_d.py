"""``D unlock|lock|rm|trash|list-trash|restore REPO``: delete a wild repo, in two steps.

gitolite's ``D``: a repo's owner (its creator) ``unlock``s it, then ``rm`` deletes it (or
``trash`` moves it to the trash can, ``TRASH_CAN`` under the repo base, as
``Trash/REPO/<time>``; ``list-trash`` lists the owner's trashed repos; ``restore
Trash-path`` brings one back). ``lock`` undoes ``unlock``. The messages are gitolite's and,
as its shell script does, go to stderr without a ``FATAL:`` prefix, exit 1.
Stricter than gitolite: REPO must pass the canonical name check, and a trash path must be
``REPO/<time>`` exactly as ``trash`` made it, so no path can lead outside the trash can.
"""

from __future__ import annotations

import os
import sys
import time

from gitolite_triggers.names import repo_name_problem
from gitolite_triggers.shell.cmdlib import Quit, need_user, owns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\
Usage:    ssh git@host D <subcommand> <argument>

Remove a wild repo you created, in two steps (unlock, then rm), or via the trash can.

    D unlock <repo>         allow 'rm' of the repo
    D lock <repo>           undo 'unlock'
    D rm <repo>             remove the repo (it must be unlocked first)
    D trash <repo>          move the repo to the trash can
    D list-trash            list your repos in the trash can
    D restore <trashed>     restore a repo from the trash can (a name list-trash shows)
"""
RM_OK = "gl-rm-ok"
TIME_CHARS = frozenset("0123456789-_:")


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if not args or args[0] == "-h" or (args[0] != "list-trash" and len(args) < 2):
        sys.stdout.write(USAGE)
        return 1
    user = need_user(user)
    cmd = args[0]
    repo = args[1] if len(args) > 1 else ""
    trash = os.path.join(rc.repo_base, str(rc.get("TRASH_CAN") or "Trash"))
    if cmd == "list-trash":
        for name in _trashed_by(trash, user):
            print(name)
        return 0
    if cmd == "restore":
        return _restore(rc, trash, repo, user)
    if cmd not in ("rm", "lock", "unlock", "trash"):
        raise Quit(f"unknown subcommand '{cmd}'")
    if cmd in ("rm", "unlock") and rc.get("D_DISABLE_RM"):
        raise Quit("sorry, 'unlock' and 'rm' are disabled")
    if repo_name_problem(repo) or not owns(rc, repo, user):
        raise Quit("You are not authorised")
    path = os.path.join(rc.repo_base, f"{repo}.git")
    flag = os.path.join(path, RM_OK)
    if cmd == "unlock":
        with open(flag, "a"):
            pass
        print(f"'{repo}' is now unlocked")
    elif cmd == "lock":
        try:
            os.unlink(flag)
        except FileNotFoundError:
            pass
        print(f"'{repo}' is now locked")
    elif cmd == "rm":
        if not os.path.isfile(flag):
            raise Quit(f"'{repo}' is locked!")
        _remove(path)
        print(f"'{repo}' is now gone!")
    else:
        where = os.path.join(trash, repo)
        try:
            os.makedirs(where, exist_ok=True)
        except OSError:
            raise Quit("failed creating directory in trashcan") from None
        stamp = str(rc.get("TRASH_SUFFIX") or time.strftime("%Y-%m-%d_%H:%M:%S"))
        if os.path.lexists(os.path.join(where, stamp)):
            raise Quit("try again in a few seconds...")
        os.rename(path, os.path.join(where, stamp))
        print(f"'{repo}' moved to trashcan")
    return 0


def _remove(path: str) -> None:
    """Delete the repo: renamed aside first (one atomic step takes it out of service)."""
    import shutil

    aside = f"{path}.deleting-{os.getpid()}"
    os.rename(path, aside)
    shutil.rmtree(aside)


def _trashed_by(trash: str, user: str) -> list[str]:
    """``REPO/<time>`` of every trashed repo whose gl-creator is ``user``, sorted."""
    found = []
    for folder, dirs, files in os.walk(trash):
        dirs.sort()
        if "gl-creator" in files:
            dirs[:] = []
            try:
                with open(os.path.join(folder, "gl-creator"), encoding="utf-8") as f:
                    owner = f.read().strip()
            except OSError:
                continue
            if owner == user:
                found.append(os.path.relpath(folder, trash))
    return sorted(found)


def trashed_copy(trashed: str) -> tuple[str, str] | None:
    """``REPO/<stamp>`` as ``trash`` names a copy: (REPO, stamp), or None for anything else
    (so the path built from it is always a folder two levels into the trash can, or deeper
    by REPO's own valid segments: never ``..``, never absolute)."""
    real, _, stamp = trashed.rpartition("/")
    if not real or repo_name_problem(real) or not stamp or not TIME_CHARS.issuperset(stamp):
        return None
    if stamp.strip("-_:") == "":
        return None  # no digits: not a stamp trash wrote
    return real, stamp


def _restore(rc: Rc, trash: str, trashed: str, user: str) -> int:
    copy = trashed_copy(trashed)
    if copy is None:
        raise Quit(f"'{trashed}' is not yours!")
    real, stamp = copy
    source = os.path.join(trash, real, stamp)
    try:
        with open(os.path.join(source, "gl-creator"), encoding="utf-8") as f:
            owner = f.read().strip()
    except OSError:
        owner = ""
    if owner != user:
        raise Quit(f"'{trashed}' is not yours!")
    target = os.path.join(rc.repo_base, f"{real}.git")
    from gitolite_triggers.repos import inside_repo_base

    if not inside_repo_base(rc, target) or not inside_repo_base(rc, source):
        raise Quit(f"'{trashed}' is not yours!")
    if os.path.lexists(target):
        raise Quit(f"'{real}' already exists")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(source, target)
    print(f"'{trashed}' restored to '{real}'")
    return 0
