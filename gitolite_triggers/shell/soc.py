"""Parse ``SSH_ORIGINAL_COMMAND`` exactly as gitolite-shell does (pure: no I/O, no state).

- CR, LF, NUL or any other control character: refused ("I don't like newlines..." for
  CR/LF, as gitolite). Longer than MAX_LENGTH: refused.
- Empty (or blank): the ``info`` command.
- ``git-upload-pack``/``git-receive-pack``/``git-upload-archive`` followed by one space and
  the repo, optionally in single quotes, one leading ``/`` allowed. Then a trailing
  ``.git<digit>`` (gitolite's debug suffix) is stripped, then one trailing ``/``, then a
  trailing ``.git``. The name must match REPONAME_PATT and pass gitolite's sanity check
  (no ``..``, no ``.git/``, ...). ``~`` is not expanded (it fails the name check).
- Otherwise the words are a command; only COMMANDS are known, their arguments must
  match REMOTE_COMMAND_PATT and hold no ``../``. Anything else is refused.
"""

from __future__ import annotations

import re
from collections import namedtuple

from gitolite_triggers.shell.patterns import REMOTE_COMMAND_PATT, repo_name_problem

MAX_LENGTH = 4096
GIT_VERBS = ("git-upload-pack", "git-receive-pack", "git-upload-archive")
COMMANDS = ("info", "help", "perms")
_GIT = re.compile(r"(git-upload-pack|git-receive-pack|git-upload-archive) '?/?(.*?)'?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SocError(Exception):
    """The command is refused; str() is the message for the client (without FATAL:)."""


class GitRequest(namedtuple("GitRequest", "verb repo")):
    """A git verb (git-upload-pack | git-receive-pack | git-upload-archive) on a repo.

    Named tuples, not dataclasses: importing dataclasses costs every session a few ms.
    """

    __slots__ = ()

    @property
    def access(self) -> str:
        """gitolite's attempted access: R when the verb contains 'upload', else W."""
        return "R" if "upload" in self.verb else "W"


class CommandRequest(namedtuple("CommandRequest", "name args")):
    """A remote command (info, help, perms) and its argument words."""

    __slots__ = ()


def shown(soc: str, limit: int = 200) -> str:
    """The command as it may appear in a message: control characters escaped, long ones cut."""
    text = soc if len(soc) <= limit else soc[:limit] + f"...({len(soc)} chars)"
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def parse(soc: str) -> GitRequest | CommandRequest:
    """Parse one SSH_ORIGINAL_COMMAND; raise SocError with gitolite-like wording."""
    if "\n" in soc or "\r" in soc:
        raise SocError(f"I don't like newlines in the command: '{shown(soc)}'")
    if _CONTROL.search(soc):
        raise SocError(f"control characters in the command: '{shown(soc)}'")
    if len(soc) > MAX_LENGTH:
        raise SocError(f"command too long ({len(soc)} characters; at most {MAX_LENGTH})")
    if not soc.strip():
        return CommandRequest("info", ())
    m = _GIT.fullmatch(soc)
    if m:
        verb, repo = m.group(1), m.group(2)
        repo = re.sub(r"\.git\d\Z", "", repo)
        if repo.endswith("/"):
            repo = repo[:-1]
        if repo.endswith(".git"):
            repo = repo[:-4]
        problem = repo_name_problem(repo)
        if problem:
            raise SocError(f"invalid repo name: '{shown(repo)}' ({problem})")
        return GitRequest(verb, repo)
    words = soc.split()
    if words[0] in COMMANDS:
        if not REMOTE_COMMAND_PATT.fullmatch(soc):
            raise SocError(f"suspicious characters loitering about '{shown(soc)}'")
        if "../" in soc:
            raise SocError("no relative paths allowed anywhere!")
        return CommandRequest(words[0], tuple(words[1:]))
    raise SocError(f"unknown git/gitolite command: '{shown(soc)}'")
