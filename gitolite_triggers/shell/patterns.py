"""gitolite's name patterns (Rc.pm), compiled once; every check uses ``fullmatch``.

Python's ``$`` also matches before a trailing newline, so the patterns are only ever
applied with ``fullmatch`` (and newlines are refused before they get here anyway).
The character classes are ASCII ranges, so unicode look-alikes never match.
"""

from __future__ import annotations

import re

REPONAME_PATT = re.compile(r"@?[0-9a-zA-Z][-0-9a-zA-Z._@/+]*")
USERNAME_PATT = re.compile(r"@?[0-9a-zA-Z][-0-9a-zA-Z._@+]*")
REF_OR_FILENAME_PATT = re.compile(r"[0-9a-zA-Z][-0-9a-zA-Z._@/+ :,]*")
REMOTE_COMMAND_PATT = re.compile(r"[-0-9a-zA-Z._@/+ :,%=]*")


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
