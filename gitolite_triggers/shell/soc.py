"""Parse ``SSH_ORIGINAL_COMMAND`` exactly as gitolite-shell does (pure: no I/O, no state).

- CR, LF, NUL or any other control character: refused ("I don't like newlines..." for
  CR/LF, as gitolite). Longer than MAX_LENGTH: refused.
- Empty (or blank): the ``info`` command.
- ``git-upload-pack``/``git-receive-pack``/``git-upload-archive`` followed by one space and
  the repo, optionally in single quotes, one leading ``/`` allowed. Then a trailing
  ``.git<digit>`` (gitolite's debug suffix) is stripped, then one trailing ``/``, then a
  trailing ``.git``. The name must pass ``names.repo_name_problem`` (the one canonical
  check: gitolite's characters and sanity, no empty or ``.`` segments, at most 256
  characters and 32 levels). ``~`` is not expanded (it fails the name check).
- Otherwise the words are a command; only the enabled ones (the caller passes the rc's
  COMMANDS; COMMANDS below by default) are known, their arguments must use only
  remote-command characters and hold no ``../``. Anything else is refused.
"""

from __future__ import annotations

from gitolite_triggers.names import is_remote_command, repo_name_problem

MAX_LENGTH = 4096
GIT_VERBS = ("git-upload-pack", "git-receive-pack", "git-upload-archive")
COMMANDS = ("info", "help", "perms", "builds", "build")
CONTROL_CHARS = frozenset([*map(chr, range(0x20)), "\x7f"])


class SocError(Exception):
    """The command is refused; str() is the message for the client (without FATAL:)."""


class GitRequest(tuple[str, str]):
    """A git verb (git-upload-pack | git-receive-pack | git-upload-archive) on a repo.

    A tuple ``(verb, repo)`` with names (a namedtuple would import collections).
    """

    __slots__ = ()

    def __new__(cls, verb: str, repo: str) -> GitRequest:
        return tuple.__new__(cls, (verb, repo))

    @property
    def verb(self) -> str:
        return self[0]

    @property
    def repo(self) -> str:
        return self[1]

    @property
    def access(self) -> str:
        """gitolite's attempted access: R when the verb contains 'upload', else W."""
        return "R" if "upload" in self.verb else "W"

    def __repr__(self) -> str:
        return f"GitRequest(verb={self.verb!r}, repo={self.repo!r})"


class CommandRequest(tuple[str, tuple[str, ...]]):
    """A remote command (info, perms, D...) and its argument words, as ``(name, args)``."""

    __slots__ = ()

    def __new__(cls, name: str, args: tuple[str, ...]) -> CommandRequest:
        return tuple.__new__(cls, (name, args))

    @property
    def name(self) -> str:
        return self[0]

    @property
    def args(self) -> tuple[str, ...]:
        return self[1]

    def __repr__(self) -> str:
        return f"CommandRequest(name={self.name!r}, args={self.args!r})"


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and how long it was."""
    return text if len(text) <= limit else text[:limit] + f"...({len(text)} chars)"


def shown(soc: str, limit: int = 200) -> str:
    """The command as it may appear in a message: long ones cut, and every non-printable
    character (U+2028, NEL, C1 controls...) and the backslash escaped as the log does
    (glog.escape), so a FATAL line or log record never breaks into several lines."""
    from gitolite_triggers.glog import escape

    return escape(cut(soc, limit))


def _git_request(soc: str) -> tuple[str, str] | None:
    """``VERB '?/?REPO'?`` (one space after the verb): (verb, raw repo), else None."""
    verb, space, repo = soc.partition(" ")
    if not space or verb not in GIT_VERBS:
        return None
    if repo.startswith("'"):
        repo = repo[1:]
    if repo.startswith("/"):
        repo = repo[1:]
    if repo.endswith("'"):
        repo = repo[:-1]
    return verb, repo


def parse(soc: str, commands: tuple[str, ...] = COMMANDS) -> GitRequest | CommandRequest:
    """Parse one SSH_ORIGINAL_COMMAND; raise SocError with gitolite-like wording."""
    if "\n" in soc or "\r" in soc:
        raise SocError(f"I don't like newlines in the command: '{shown(soc)}'")
    if not CONTROL_CHARS.isdisjoint(soc):
        raise SocError(f"control characters in the command: '{shown(soc)}'")
    if len(soc) > MAX_LENGTH:
        raise SocError(f"command too long ({len(soc)} characters; at most {MAX_LENGTH})")
    if not soc.strip():
        return CommandRequest("info", ())
    git = _git_request(soc)
    if git:
        verb, repo = git
        if repo[-5:-1] == ".git" and repo[-1:].isdecimal():
            repo = repo[:-5]  # gitolite's ".git<digit>" debug suffix
        if repo.endswith("/"):
            repo = repo[:-1]
        if repo.endswith(".git"):
            repo = repo[:-4]
        problem = repo_name_problem(repo)
        if problem:
            if problem == "contains '..'":  # gitolite's words (t/0-me-first.t matches them)
                raise SocError(f"'{shown(repo)}' contains '..'")
            raise SocError(f"invalid repo name: '{shown(repo)}' ({problem})")
        return GitRequest(verb, repo)
    words = soc.split()
    if words[0] in commands:
        if not is_remote_command(soc):
            raise SocError(f"suspicious characters loitering about '{shown(soc)}'")
        if "../" in soc:
            raise SocError("no relative paths allowed anywhere!")
        return CommandRequest(words[0], tuple(words[1:]))
    raise SocError(f"unknown git/gitolite command: '{shown(soc)}'")
