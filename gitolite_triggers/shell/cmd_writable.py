"""``writable REPO|@all on|off|status [MESSAGE]``: stop and restart pushes (for backups...).

``off`` writes ``.gitolite.down`` (the message, else stdin's text) in the repo's folder, or
for ``@all`` in the account's HOME; ``on`` removes it; ``status`` exits 0 when writable, 1
when not. While the file exists every push (W access) is refused with its text, or with
``sorry, writes are currently disabled (no more info available)`` when it is empty
(shell/wrapper.py: ``writes_disabled``). gitolite's rights: ``@all`` needs an admin (W on
gitolite-admin); a repo needs its owner or an admin, or for ``status`` write access.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.errors import Fatal
from gitolite_triggers.shell.cmdlib import can_write, is_admin, owns, repo_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\
Usage:  gitolite writable <reponame>|@all on|off|status

Disable or re-enable pushes to one repo or to all repos, e.g. around a backup.
'off' takes the rest of the line (else stdin) as the message users see when a
push is refused; 'status' exits 0 when writable, 1 when not.
"""
DOWN = ".gitolite.down"
MAX_MESSAGE = 65536


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if len(args) < 2 or args[0] == "-h" or args[1] not in ("on", "off", "status"):
        sys.stdout.write(USAGE)
        return 1
    repo, op = args[0], args[1]
    if user:  # the account's own shell (no GL_USER) may do anything
        if repo == "@all":
            ok = is_admin(rc, user)
        else:
            ok = (
                owns(rc, repo, user)
                or is_admin(rc, user)
                or (op == "status" and can_write(rc, repo, user))
            )
        if not ok:
            raise Fatal("you are not authorized")
    home = os.environ.get("HOME") or os.path.expanduser("~")
    if repo == "@all":
        targets = [home]
    else:
        path = repo_dir(rc, repo)
        if path is None:
            raise Fatal("you are not authorized" if user else f"repo '{repo}' does not exist")
        targets = [path, home] if op == "status" else [path]
    if op == "status":
        return 1 if any(os.path.lexists(os.path.join(t, DOWN)) for t in targets) else 0
    if op == "on":
        for t in targets:
            try:
                os.unlink(os.path.join(t, DOWN))
            except FileNotFoundError:
                pass
        return 0
    message = " ".join(args[2:])
    if not message:
        print("...please type the message to be shown to users:", file=sys.stderr)
        # the client's bytes: read as bytes (bounded), any invalid UTF-8 replaced
        message = sys.stdin.buffer.read(MAX_MESSAGE).decode("utf-8", "replace")
    from gitolite_triggers.atomicfile import AS_OPEN, write_atomic

    for t in targets:
        write_atomic(os.path.join(t, DOWN), message.encode("utf-8"), AS_OPEN, fsync=False)
    return 0


def writes_disabled(rc: Rc, repo: str) -> str | None:
    """The refusal for a push while writes are off (HOME's file first, then the repo's)."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    for folder in (home, os.path.join(rc.repo_base, f"{repo}.git")):
        try:
            with open(os.path.join(folder, DOWN), encoding="utf-8", errors="replace") as f:
                text = f.read(MAX_MESSAGE)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        text = text.rstrip("\n")
        if not text:
            return "sorry, writes are currently disabled (no more info available)"
        # the owner's text goes to every pusher's terminal: no escape sequences
        return "".join(c if c.isprintable() or c in "\n\t" else "?" for c in text)
    return None
