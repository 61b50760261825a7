"""gitolite's name patterns (Rc.pm) as character-set checks, for the hot path.

``conf/patterns.py`` holds the same patterns as regexes for the rules compiler. The ssh
session, the access check and the hooks use these instead: importing ``re`` costs every
fetch about 5 ms (with ``enum``, ``functools`` and ``collections`` behind it), far more
than the checks themselves. tests/test_names.py proves each function equal to its regex
over a large random sample.

Every check is ASCII-only, as the regexes' character ranges are: unicode look-alikes and
unicode digits never pass. By default a name must match as a whole (``fullmatch``);
``perl=True`` also accepts one trailing newline, as the regex's ``$`` (and gitolite's
Perl) does, for callers that must answer exactly as gitolite would.
"""

from __future__ import annotations

ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
REPONAME_CHARS = ALNUM | frozenset("-._@/+")
USERNAME_CHARS = ALNUM | frozenset("-._@+")
REF_CHARS = ALNUM | frozenset("-._@/+ :,")
REPOPATT_FIRST = ALNUM | frozenset("[")
REPOPATT_CHARS = ALNUM | frozenset("-._@/+\\^$|()[]*?{},")
REMOTE_COMMAND_CHARS = ALNUM | frozenset("-._@/+ :,%=")
HEX = frozenset("0123456789abcdef")


def _matches(name: str, perl: bool, at: bool, first: frozenset[str], rest: frozenset[str]) -> bool:
    """One of Rc.pm's ``^@?[first][rest]*$`` patterns: drop Perl's final newline (``perl``)
    and one leading '@' (``at``), then check the first character and all the others."""
    if perl and name.endswith("\n"):
        name = name[:-1]
    if at and name.startswith("@"):
        name = name[1:]
    return name[:1] in first and rest.issuperset(name)


def is_repo_name(name: str, perl: bool = False) -> bool:
    """REPONAME_PATT: ``@?`` then an alphanumeric, then ``[-0-9a-zA-Z._@/+]*``."""
    return _matches(name, perl, True, ALNUM, REPONAME_CHARS)


def is_repo_pattern(name: str, perl: bool = False) -> bool:
    """REPOPATT_PATT: a repo name or a wild pattern (also ``[`` first, regex characters)."""
    return _matches(name, perl, True, REPOPATT_FIRST, REPOPATT_CHARS)


def is_user_name(name: str, perl: bool = False) -> bool:
    """USERNAME_PATT: ``@?`` then an alphanumeric, then ``[-0-9a-zA-Z._@+]*``."""
    return _matches(name, perl, True, ALNUM, USERNAME_CHARS)


def is_ref(name: str, perl: bool = False) -> bool:
    """REF_OR_FILENAME_PATT: an alphanumeric, then ``[-0-9a-zA-Z._@/+ :,]*`` (no '@' prefix)."""
    return _matches(name, perl, False, ALNUM, REF_CHARS)


def is_remote_command(text: str) -> bool:
    """The characters a remote command line (``perms ...``) may use."""
    return REMOTE_COMMAND_CHARS.issuperset(text)


def safe_ref(ref: str) -> str:
    """The ref with every character outside REF_CHARS made ``.`` (for DENIED messages)."""
    if REF_CHARS.issuperset(ref):
        return ref
    return "".join(c if c in REF_CHARS else "." for c in ref)


def is_sha(text: str) -> bool:
    """A full lowercase object name: 40 (SHA-1) or 64 (SHA-256) hex digits."""
    return len(text) in (40, 64) and HEX.issuperset(text)
