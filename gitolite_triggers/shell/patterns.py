"""gitolite's name checks as the wrapper and hooks apply them: whole names, no ``re``.

The checks are ``names.py``'s (character sets equal to the rules compiler's regexes in
conf/patterns.py), applied to the whole name: a name with a newline never passes. The
character classes are ASCII ranges, so unicode look-alikes never match.
"""

from __future__ import annotations

from gitolite_triggers.names import is_ref, is_repo_name, is_user_name


def repo_name_problem(repo: str) -> str | None:
    """gitolite's ``sanity()``: None when ``repo`` is an acceptable repo name, else why not."""
    if not is_repo_name(repo):
        return "invalid repo name"
    if repo.endswith("/"):
        return "trailing slash in repo name"
    if ".." in repo:
        return "'..' in repo name"
    if ".git/" in repo or repo.endswith(".git"):
        return "'.git' inside repo name"
    return None


def valid_user(user: str) -> bool:
    return is_user_name(user)


def valid_ref(ref: str) -> bool:
    return is_ref(ref)
