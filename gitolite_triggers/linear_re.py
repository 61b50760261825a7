"""Linear-time regex matching for every pattern that meets a user-chosen string.

Why not ``re``: Python's ``re`` backtracks, so a conf pattern such as
``sandbox/([a-z0-9]+-?)+`` against a 40-character repo name a user picked (or a refex
against a pushed ref) runs for minutes: one fetch could pin a server core. RE2
(``google-re2`` on PyPI, imported as ``re2``) runs in time linear in the input for every
pattern it accepts, and refuses the features that need backtracking (backreferences,
lookaround, atomic groups, possessive quantifiers). So every match of a repo name, ref
or user name against a pattern from the conf or the rc goes through :func:`compile`
here; a pattern RE2 cannot take raises :class:`RegexError`, which the conf compiler
turns into a ``file:line`` error and the access check into a denial (fail closed: there
is no fallback to ``re``).

RE2 is set up to answer like gitolite's Perl (and Python's ``re``) for gitolite's
patterns: Perl syntax, leftmost-first (not longest) matching, case sensitive, ``.`` not
matching a newline, ASCII ``\\b``/``\\w``/``\\d``. Two spellings are rewritten before RE2
sees them: ``{,N}`` means ``{0,N}`` in Perl 5.34+ and Python (RE2 reads it literally),
and ``\\Z`` becomes ``\\z`` (RE2 has only the latter). Where RE2 still differs, it is
stricter: its ``$`` matches only at the very end, never before a final newline (names
never contain one). Patterns and subjects are UTF-8; a subject with lone surrogates
(from ``surrogateescape``) is encoded with ``surrogatepass``, so no ``str`` can make a
match raise.

Memory is bounded: a pattern longer than MAX_PATTERN_LENGTH characters is refused, and
each compiled regex gets at most MAX_MEM bytes (RE2 refuses to compile a larger program
and keeps its DFA cache inside that budget, falling back to its linear NFA). RE2's
repetition limit (``{1000}``) also stands.

``import re2`` (about 4 ms, as much as ``re``) happens on the first compile, so a
session that needs no regex never pays for it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_PATTERN_LENGTH = 8192
MAX_MEM = 8 << 20  # bytes per compiled regex (RE2's own default, made explicit)
_CACHE_LIMIT = 20000

_NOT_LINEAR = "which cannot be matched in linear time"
# What RE2's error text starts with, and what we call the feature behind it.
_UNSUPPORTED = (
    *((f"invalid escape sequence: \\{c}", "a backreference") for c in "123456789kg"),
    ("invalid perl operator: (?P=", "a backreference"),
    ("invalid perl operator: (?=", "a lookahead"),
    ("invalid perl operator: (?!", "a lookahead"),
    ("invalid perl operator: (?<=", "a lookbehind"),
    ("invalid perl operator: (?<!", "a lookbehind"),
    ("invalid perl operator: (?>", "an atomic group"),
    ("invalid perl operator: (?(", "a conditional"),
    *((f"bad repetition operator: {q}+", "a possessive quantifier") for q in "*+?}"),
)


class RegexError(ValueError):
    """A pattern that cannot be matched here: invalid, too big, or needing backtracking."""


class Match:
    """Where a pattern matched (character offsets into the subject), like ``re.Match``."""

    __slots__ = ("string", "_start", "_end")

    def __init__(self, string: str, start: int, end: int) -> None:
        self.string = string
        self._start = start
        self._end = end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def span(self) -> tuple[int, int]:
        return self._start, self._end

    def group(self, index: int = 0) -> str:
        if index != 0:
            raise IndexError("only the whole match (group 0) is kept")
        return self.string[self._start : self._end]

    def __repr__(self) -> str:
        return f"<linear_re.Match span={self.span()!r} match={self.group()!r}>"


class Pattern:
    """A compiled pattern: ``search``, ``match`` and ``fullmatch`` as in ``re``."""

    __slots__ = ("pattern", "_rx")

    def __init__(self, pattern: str, rx: Any) -> None:
        self.pattern = pattern
        self._rx = rx

    def search(self, string: str) -> Match | None:
        """The first match anywhere in ``string`` (``re.search``)."""
        return self._result(string, self._rx.search)

    def match(self, string: str) -> Match | None:
        """A match starting at the beginning of ``string`` (``re.match``)."""
        return self._result(string, self._rx.match)

    def fullmatch(self, string: str) -> Match | None:
        """A match of the whole of ``string`` (``re.fullmatch``)."""
        return self._result(string, self._rx.fullmatch)

    def _result(self, string: str, how: Any) -> Match | None:
        if string.isascii():
            m = how(string.encode("ascii"))
            return None if m is None else Match(string, *m.span())
        data = string.encode("utf-8", "surrogatepass")
        m = how(data)
        if m is None:
            return None
        start, end = m.span()

        def chars(n: int) -> int:
            return len(data[:n].decode("utf-8", "surrogatepass"))

        return Match(string, chars(start), chars(end))

    def __repr__(self) -> str:
        return f"linear_re.compile({self.pattern!r})"


_cache: dict[str, Pattern] = {}
_failed: dict[str, str] = {}


def compile(pattern: str) -> Pattern:  # the name callers know from `re`
    """The pattern compiled by RE2, cached for the process; RegexError if RE2 cannot take it."""
    got = _cache.get(pattern)
    if got is not None:
        return got
    why = _failed.get(pattern)
    if why is not None:
        raise RegexError(why)
    try:
        got = _compile(pattern)
    except RegexError as e:
        if len(_failed) > _CACHE_LIMIT:
            _failed.clear()
        _failed[pattern] = str(e)
        raise
    if len(_cache) > _CACHE_LIMIT:
        _cache.clear()
    _cache[pattern] = got
    return got


_options: Any = None


def _compile(pattern: str) -> Pattern:
    global _options
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RegexError(
            f"pattern is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH} are allowed"
        )
    try:
        source = translate(pattern).encode("utf-8")
    except UnicodeEncodeError:
        raise RegexError("pattern is not valid UTF-8") from None
    import re2

    if _options is None:
        o = re2.Options()
        o.max_mem = MAX_MEM
        o.log_errors = False  # RE2 would print to stderr: the ssh client's
        o.longest_match = False  # leftmost-first, as Perl and Python
        o.case_sensitive = True
        o.dot_nl = False
        o.never_nl = False
        o.posix_syntax = False  # Perl syntax: \d \w \s \b, (?i), non-greedy ...
        o.never_capture = True  # only "did it match (where)" is asked: the DFA answers
        o.encoding = re2.Options.Encoding.UTF8
        _options = o
    try:
        rx = re2.compile(source, _options)
    except re2.error as e:
        raise RegexError(_explain(e)) from None
    return Pattern(pattern, rx)


def _explain(e: Exception) -> str:
    raw = e.args[0] if e.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for start, feature in _UNSUPPORTED:
        if text.startswith(start):
            return f"pattern uses {feature}, {_NOT_LINEAR}"
    if "pattern too large" in text:
        return f"pattern is too large (it would need more than {MAX_MEM >> 20} MiB to match)"
    return f"invalid regex: {text}"


def translate(pattern: str) -> str:
    """The pattern in RE2's spelling: ``{,N}`` -> ``{0,N}`` and ``\\Z`` -> ``\\z``.

    Escapes and character classes are skipped over, so ``\\{,1}`` and ``[{,1}]`` stay.
    """
    if "{," not in pattern and "\\Z" not in pattern:
        return pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            out.append("\\z" if nxt == "Z" and not in_class else c + nxt)
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i) and (close := pattern.find(":]", i + 2)) > 0:
                out.append(pattern[i : close + 2])  # [:alpha:] inside a class
                i = close + 2
                continue
            if c == "]" and not _class_start(pattern, i):
                in_class = False
        elif c == "[":
            in_class = True
        elif c == "{" and pattern.startswith("{,", i) and out and out[-1] not in ("(", "|"):
            close = pattern.find("}", i)
            digits = pattern[i + 2 : close]
            if close > i + 2 and digits.isascii() and digits.isdigit():
                out.append("{0," + digits + "}")
                i = close + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _class_start(pattern: str, i: int) -> bool:
    """Is the ``]`` at ``i`` the first member of its class (``[]a]``, ``[^]a]``), a literal?"""
    j = i - 1
    if j >= 0 and pattern[j] == "^":
        j -= 1
    return j >= 0 and pattern[j] == "[" and (j == 0 or pattern[j - 1] != "\\")
