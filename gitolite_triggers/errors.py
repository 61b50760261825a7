"""One way to fail: the ``Fatal`` exception, and who hears about a failure.

Code that refuses something raises ``Fatal(message, status)`` wherever it is, however deep
in a session; only ``guard`` prints it and writes gitolite's ``die`` log line. (The other
``FATAL:`` lines are the runner's reports on a trigger program, whose caller decides what
the status means, and the launcher's, printed before the package can be imported.)
``guard.guarded`` (around every command by cli.py, around every repo hook by
hooks/entry.py) catches it and prints ``FATAL: <message>`` on stderr, writes one ``die``
line in the log and exits with the status. A Fatal's message is written for whoever is
listening, so it is printed as it is, to a client too; the exceptions are:

- ``RcError`` (a Fatal): the rc is broken. Its message names server files, so a client
  sees only the generic refusal below; an admin sees the file:line messages.
- anything unexpected: a client sees the generic refusal; an admin the exception's type and
  message. The traceback goes to the log only.

Who is listening: a process either talks to a client (the ssh forced command and the repo
hooks: whatever they print reaches an ssh user's terminal) or to an admin (every other
command, run by the account itself). A client's generic refusal carries a reference (the
session id, GL_TID, which also starts every log line of the session). ``guarded`` sets the
audience; glog, the runner and the Buildkite program ask ``talking_to_client()`` before
they print anything internal.

The bottom of the package (it imports nothing from it): every layer may raise Fatal.
"""

from __future__ import annotations

import os


class Fatal(Exception):
    """A refusal: ``guarded`` prints ``FATAL: <message>``, logs ``die`` and exits ``status``.

    ``log`` gives the ``die`` line's fields when they should say more (repo, user) or less
    than the message; by default the line is the message; ``()`` logs nothing (a refused
    ``setup`` must not make the log's folder on an account it did not prepare).
    """

    def __init__(self, message: str, status: int = 1, log: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or 1
        self.log_fields = (message,) if log is None else log


class RcError(Fatal):
    """The rc (or a fragment) is unreadable or invalid; the message names file and line."""


def fatal_lines(*texts: str) -> str:
    """Several refusal lines as one Fatal message: each shown behind its own ``FATAL:``."""
    return "\nFATAL: ".join(texts)


_client = False


def set_client(flag: bool) -> None:
    """Mark this process as one whose stderr an ssh client reads (shell, hooks)."""
    global _client
    _client = flag


def talking_to_client() -> bool:
    return _client


def session_ref() -> str:
    """The reference a client quotes to an admin: the session id the log lines carry."""
    return os.environ.get("GL_TID") or str(os.getpid())


def client_refusal(what: str = "server configuration error") -> str:
    """The generic line a client sees instead of server internals."""
    return f"FATAL: {what}; ask an admin (ref {session_ref()})"
