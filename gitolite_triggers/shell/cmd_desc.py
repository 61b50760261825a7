"""``desc REPO`` shows, ``desc REPO TEXT...`` sets a repo's ``description`` (gitweb's, cgit's).

gitolite's rights: showing needs read access; setting needs the repo's ownership (its
creator), or write access where the repo has ``option writer-is-owner = 1`` (or everywhere
with the rc's ``WRITER_CAN_UPDATE_DESC: true``). Anyone else
gets ``you are not authorized``. The text is the words joined by one space, written
atomically, without a newline (as gitolite writes it).
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.errors import Fatal
from gitolite_triggers.shell.cmdlib import can_read, can_write, need_user, owns, repo_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\
Usage:    ssh git@host desc <repo>
          ssh git@host desc <repo> <description string>

Show or set the description of a repo.  Setting it needs ownership of the repo
(you created it), or write access where the repo has 'option writer-is-owner = 1'.
"""
NOT_AUTHORIZED = "you are not authorized"


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if not args or args[0] == "-h":
        sys.stdout.write(USAGE)
        return 1
    user = need_user(user)
    repo, text = args[0], " ".join(args[1:])
    if text:
        ok = owns(rc, repo, user) or (can_write(rc, repo, user) and _writer_is_owner(rc, repo))
    else:
        ok = can_read(rc, repo, user)
    path = repo_dir(rc, repo) if ok else None
    if path is None:
        raise Fatal(NOT_AUTHORIZED)
    file = os.path.join(path, "description")
    if text:
        from gitolite_triggers.atomicfile import AS_OPEN, write_atomic

        write_atomic(file, text.encode("utf-8"), AS_OPEN, fsync=False)
        return 0
    try:
        with open(file, encoding="utf-8", errors="replace") as f:
            sys.stdout.write(f.read(65536))
    except OSError:
        pass
    return 0


def _writer_is_owner(rc: Rc, repo: str) -> bool:
    from gitolite_triggers.conf.query import options_for

    return bool(rc.get("WRITER_CAN_UPDATE_DESC") or options_for(rc, repo).get("writer-is-owner"))
