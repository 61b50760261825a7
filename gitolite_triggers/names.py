"""gitolite's name patterns (Rc.pm) as character-set checks, and THE repo-name check.

Every part of the server that takes a name asks this module: the conf parser and
compiler, the access check, the ssh session (SOC, wild create, ``perms``), the hooks and
``access``. One module, because three copies of "what is a repo name" drifted apart once
already: ``hr//payroll`` reached ``hr/payroll``'s folder while the rules were looked up by
the raw name, so the repo's own rules were skipped (issue 10).

Character sets rather than regexes (``re`` is off the hot path, docs/architecture.md).
tests/test_names.py proves each function equal to gitolite's regex
over a large random sample (the regexes live in that test).

Every check is ASCII-only, as the regexes' character ranges are: unicode look-alikes and
unicode digits never pass. A name must match as a whole. ``perl=True`` also accepts one
trailing newline, as the regex's ``$`` (and gitolite's Perl) does; no caller in the
package uses it: every name that reaches a check either comes from a client or an admin
command (where a trailing newline must never pass: issue 10, defect 7) or was split on
whitespace (so it cannot end in one). It stays for the proof that the sets equal the
regexes.
"""

from __future__ import annotations

ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
WORD_CHARS = ALNUM | frozenset("_")  # what Perl's (and re.ASCII's) \b calls a word character
REPONAME_CHARS = ALNUM | frozenset("-._@/+")
USERNAME_CHARS = ALNUM | frozenset("-._@+")
REF_CHARS = ALNUM | frozenset("-._@/+ :,")
REPOPATT_FIRST = ALNUM | frozenset("[")
REPOPATT_CHARS = ALNUM | frozenset("-._@/+\\^$|()[]*?{},")
REMOTE_COMMAND_CHARS = ALNUM | frozenset("-._@/+ :,%=")
UNSAFE_CHARS = frozenset("`~#$&()|;<>")  # gitolite's UNSAFE_PATT, for conf values
HEX = frozenset("0123456789abcdef")

# Limits (docs/conf.md): a name longer or deeper than this is refused wherever it comes
# in (SOC, wild create, conf, access), and walks of the repo base do not descend deeper.
MAX_REPO_NAME_LENGTH = 256
MAX_REPO_DEPTH = 32
MAX_USER_NAME_LENGTH = 128


def _matches(name: str, perl: bool, at: bool, first: frozenset[str], rest: frozenset[str]) -> bool:
    """One of Rc.pm's ``^@?[first][rest]*$`` patterns: drop Perl's final newline (``perl``)
    and one leading '@' (``at``), then check the first character and all the others."""
    if perl and name.endswith("\n"):
        name = name[:-1]
    if at and name.startswith("@"):
        name = name[1:]
    return name[:1] in first and rest.issuperset(name)


def is_repo_name(name: str, perl: bool = False) -> bool:
    """REPONAME_PATT: ``@?`` then an alphanumeric, then ``[-0-9a-zA-Z._@/+]*``.

    Only the characters: whether the name may name a folder is ``repo_name_problem``.
    """
    return _matches(name, perl, True, ALNUM, REPONAME_CHARS)


def is_repo_pattern(name: str, perl: bool = False) -> bool:
    """REPOPATT_PATT: a repo name or a wild pattern (also ``[`` first, regex characters)."""
    return _matches(name, perl, True, REPOPATT_FIRST, REPOPATT_CHARS)


def is_user_name(name: str, perl: bool = False) -> bool:
    """USERNAME_PATT: ``@?`` then an alphanumeric, then ``[-0-9a-zA-Z._@+]*``.

    The whole name, and at most MAX_USER_NAME_LENGTH characters (``perl=True``: exactly
    gitolite's regex, no length limit).
    """
    if not perl and len(name) > MAX_USER_NAME_LENGTH:
        return False
    return _matches(name, perl, True, ALNUM, USERNAME_CHARS)


def is_ref(name: str, perl: bool = False) -> bool:
    """REF_OR_FILENAME_PATT: an alphanumeric, then ``[-0-9a-zA-Z._@/+ :,]*`` (no '@' prefix)."""
    return _matches(name, perl, False, ALNUM, REF_CHARS)


def repo_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a repo's name, or None: THE canonical repo-name check.

    A name that passes is the only spelling of its folder: no empty, ``.`` or ``..``
    segment, no leading or trailing slash, so ``hr//payroll`` and ``hr/./payroll`` cannot
    reach ``hr/payroll.git`` under another name (and past its rules). On top of that,
    gitolite's ``sanity()`` (no ``.git/`` inside, no ``.git`` ending) and our limits
    (MAX_REPO_NAME_LENGTH characters, MAX_REPO_DEPTH segments). The answer reads after
    the name: ``f"'{name}' {problem}"``.
    """
    if not is_repo_name(name):
        return "is not a valid repo name (a letter or digit, then [-0-9a-zA-Z._@/+])"
    if len(name) > MAX_REPO_NAME_LENGTH:
        return f"is longer than {MAX_REPO_NAME_LENGTH} characters"
    if name.endswith("/"):
        return "ends with a '/'"
    if name.count("/") >= MAX_REPO_DEPTH:
        return f"is more than {MAX_REPO_DEPTH} levels deep"
    if ".." in name:
        return "contains '..'"
    if ".git/" in name:
        return "contains '.git/'"
    if name.endswith(".git"):
        return "ends with '.git'"
    if "//" in name:
        return "contains an empty path segment ('//')"
    if name.startswith("./") or "/./" in name or name.endswith("/."):
        return "contains a '.' path segment"
    return None


def is_remote_command(text: str) -> bool:
    """The characters a remote command line (``perms ...``) may use."""
    return REMOTE_COMMAND_CHARS.issuperset(text)


def has_unsafe_chars(value: str) -> bool:
    """gitolite's UNSAFE_PATT (``[`~#$&()|;<>]``) found in a conf value."""
    return not UNSAFE_CHARS.isdisjoint(value)


def safe_ref(ref: str) -> str:
    """The ref with every character outside REF_CHARS made ``.`` (for DENIED messages)."""
    if REF_CHARS.issuperset(ref):
        return ref
    return "".join(c if c in REF_CHARS else "." for c in ref)


def is_sha(text: str) -> bool:
    """A full lowercase object name: 40 (SHA-1) or 64 (SHA-256) hex digits."""
    return len(text) in (40, 64) and HEX.issuperset(text)
