"""gitolite's name patterns (Rc.pm) as the wrapper and hooks apply them: with ``fullmatch``.

The patterns themselves are the rules compiler's (conf/patterns.py), compiled once. Their
``$`` would also match before a trailing newline, which ``fullmatch`` does not allow, so
here a name with a newline never passes (newlines are refused before they get here
anyway). The character classes are ASCII ranges, so unicode look-alikes never match.
"""

from __future__ import annotations

import re

from gitolite_triggers.conf.patterns import REF_OR_FILENAME_PATT, REPONAME_PATT, USERNAME_PATT

REMOTE_COMMAND_PATT = re.compile(r"[-0-9a-zA-Z._@/+ :,%=]*")
__all__ = ["REF_OR_FILENAME_PATT", "REMOTE_COMMAND_PATT", "REPONAME_PATT", "USERNAME_PATT"]


def repo_name_problem(repo: str) -> str | None:
    """gitolite's ``sanity()``: None when ``repo`` is an acceptable repo name, else why not."""
    if not REPONAME_PATT.fullmatch(repo):
        return "invalid repo name"
    if repo.endswith("/"):
        return "trailing slash in repo name"
    if ".." in repo:
        return "'..' in repo name"
    if ".git/" in repo or repo.endswith(".git"):
        return "'.git' inside repo name"
    return None


def valid_user(user: str) -> bool:
    return bool(USERNAME_PATT.fullmatch(user))


def valid_ref(ref: str) -> bool:
    return bool(REF_OR_FILENAME_PATT.fullmatch(ref))
