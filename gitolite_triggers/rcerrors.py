"""The one exception every rc problem becomes, and who hears the details of a failure.

A process either talks to a client (the ssh forced command and the repo hooks: whatever
they print reaches an ssh user's terminal) or to an admin (every other command, run by
the account itself). A client gets a short, generic refusal carrying a reference (the
session id, GL_TID, which also starts every log line of the session); the detail goes to
the log, and to an admin's terminal. ``cli.guarded`` sets the audience; the runner and the
Buildkite program ask ``talking_to_client()`` before they print anything internal.
"""

from __future__ import annotations

import os


class RcError(Exception):
    """The rc (or a fragment) is unreadable or invalid; the message names file and line."""


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
