"""Plumbing shared by the POST_COMPILE programs: their argv, atomic file writes, warnings.

Argument convention (docs/triggers.md): rc args, then the trigger name, then the
trigger's own args. Under POST_COMPILE there are none; under POST_CREATE they are
``repo user`` and a program must touch only that repo.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

TRIGGER_SHAPE = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass
class Call:
    """How a program was called: its rc args, the trigger name, and the trigger's args."""

    rc_args: list[str] = field(default_factory=list)
    trigger: str = ""
    args: list[str] = field(default_factory=list)

    @property
    def only_repo(self) -> str | None:
        """The one repo to update (POST_CREATE and friends), or None for "every repo"."""
        if self.trigger and self.trigger != "POST_COMPILE" and self.args:
            return self.args[0]
        return None

    def repos(self, rc: Rc) -> list[str]:
        """The repos this call updates: ``only_repo``, or every repo on disk."""
        if self.only_repo:
            return [self.only_repo]
        from gitolite_triggers.conf.query import physical_repos

        return physical_repos(rc)


def parse_call(argv: list[str]) -> Call:
    """Split argv at the first upper-case word (the trigger name); none means by hand."""
    for i, word in enumerate(argv):
        if TRIGGER_SHAPE.match(word):
            return Call(list(argv[:i]), word, list(argv[i + 1 :]))
    return Call(list(argv), "", [])


def guarded(program: str, body: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run a program's body; an OS error (unwritable list, vanished repo) is a message, not a traceback."""
    try:
        return body(argv)
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        print(f"FATAL: {program}:{where}: {e.strerror or e}", file=sys.stderr)
        return 1


def warn(program: str, text: str) -> None:
    print(f"WARNING: {program}: {text}", file=sys.stderr)


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` via temp file + fsync + rename.

    Readers see the old or the new file, never a half-written one. ``mode`` None keeps
    the existing file's mode (0644 for a new file, subject to the umask).
    """
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644 & ~_umask()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old
