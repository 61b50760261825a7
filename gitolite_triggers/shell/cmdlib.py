"""What the ssh commands share: the greeting, and gitolite's authorisation questions.

gitolite's commands ask four questions (its Easy.pm names them; docs/shell.md says which
command asks which): can the user read the repo (R at ``any``), write it (W), is the user
an admin (W on gitolite-admin), does the user own it (the repo exists and its
``gl-creator`` is the user). Every repo name from a client passes the one canonical check
(``names.repo_name_problem``) first; a name that fails it is never looked up, so an alias
(``a//b``) or a path can never reach the file system. Hot: ``info`` and ``perms`` use it.
"""

from __future__ import annotations

import os

from gitolite_triggers.errors import Fatal
from gitolite_triggers.names import repo_name_problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

GENERIC_ERROR = "repo does not exist, or you are not authorised"
ADMIN_REPO = "gitolite-admin"


class Quit(Exception):
    """End the command with ``status``, ``message`` (if any) on stderr as it stands: gitolite's
    shell-script commands (D, fork, symbolic-ref) die without a ``FATAL:`` prefix."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def need_user(user: str | None) -> str:
    """The user a command acts for; ``gitolite <command>`` without GL_USER has none."""
    if not user:
        raise Fatal("GL_USER not set")
    return user


def greeting(user: str) -> str:
    """gitolite's first line of ``info``/``help``, and the blank line after it."""
    from gitolite_triggers import __version__

    host = os.uname().nodename.split(".")[0]
    git = git_version() or "?"
    account = os.environ.get("USER") or "git"
    return f"hello {user}, this is {account}@{host} running gitolite-triggers {__version__} on git {git}\n\n"


def git_version() -> str:
    """``git --version`` without the subprocess module (the hot path's rule, docs/architecture.md)."""
    read, write = os.pipe()
    try:
        pid = os.posix_spawnp(
            "git",
            ["git", "--version"],
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_CLOSE, read)],
        )
    except OSError:
        os.close(read)
        return ""
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out.decode("utf-8", "replace").strip().removeprefix("git version ")


def allowed(rc: Rc, repo: str, user: str, perm: str, pattern: bool = False) -> bool:
    """``access(repo, user, perm, any)`` is not denied; a name the check refuses is denied.

    ``pattern``: ``repo`` is one of the conf's own wild patterns (``info`` lists them), not
    a client's name, so it skips the name check (a pattern never passes it)."""
    from gitolite_triggers.conf.errors import AccessError
    from gitolite_triggers.conf.query import access

    if not pattern and repo_name_problem(repo):
        return False
    try:
        return "DENIED" not in access(rc, repo, user, perm, "any")
    except AccessError:
        return False


def can_read(rc: Rc, repo: str, user: str) -> bool:
    return allowed(rc, repo, user, "R")


def can_write(rc: Rc, repo: str, user: str) -> bool:
    return allowed(rc, repo, user, "W")


def is_admin(rc: Rc, user: str) -> bool:
    return allowed(rc, ADMIN_REPO, user, "W")


def repo_dir(rc: Rc, repo: str) -> str | None:
    """The repo's directory if ``repo`` is a valid name of an existing repo inside the base."""
    from gitolite_triggers.repos import inside_repo_base
    from gitolite_triggers.repos import repo_dir as path_of

    if repo_name_problem(repo):
        return None
    path = path_of(rc, repo)
    if not os.path.isdir(path) or not inside_repo_base(rc, path):
        return None
    return path


def owns(rc: Rc, repo: str, user: str) -> bool:
    """The repo exists and ``user`` created it (its ``gl-creator``)."""
    from gitolite_triggers.conf.query import creator

    return repo_dir(rc, repo) is not None and creator(rc, repo) == user


def valid_repo(repo: str) -> str:
    """gitolite's ``invalid repo 'X'`` for a name failing the canonical check."""
    if repo_name_problem(repo):
        raise Fatal(f"invalid repo '{repo}'")
    return repo
