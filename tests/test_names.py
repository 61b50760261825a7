"""The hot path's regex-free checks answer exactly as the regexes they replace.

names.py (character sets) against gitolite's regexes (Rc.pm, copied here: the package
itself no longer holds them), and conf/check.py's fast
paths (literal prefixes of wild patterns, plain-prefix refexes, permission letters)
against the regex searches gitolite does. Random strings over an alphabet of every
character class that matters (ASCII letters and digits, each allowed punctuation mark,
regex characters, whitespace, newline, control, unicode digits and look-alikes), plus
hand-picked corner cases.
"""

from __future__ import annotations

import random
import re

import pytest

from gitolite_triggers import names
from gitolite_triggers.conf import check
from tests.support.confgen import ALL_PERMS

# gitolite's name patterns (Rc.pm). Python's `$` matches at the end or before a final
# newline, exactly like Perl's, so `match` with these behaves like gitolite's qr(...).
REF_OR_FILENAME_PATT = re.compile(r"^[0-9a-zA-Z][-0-9a-zA-Z._@/+ :,]*$")
REPONAME_PATT = re.compile(r"^@?[0-9a-zA-Z][-0-9a-zA-Z._@/+]*$")
REPOPATT_PATT = re.compile(r"^@?[\[0-9a-zA-Z][-0-9a-zA-Z._@/+\\^$|()\[\]*?{},]*$")
USERNAME_PATT = re.compile(r"^@?[0-9a-zA-Z][-0-9a-zA-Z._@+]*$")
UNSAFE_PATT = re.compile(r"[`~#$&()|;<>]")
SAFE_REF_CHARS = re.compile(r"[^-0-9a-zA-Z._@/+ :,]")

ALPHABET = list("aZ09-._@/+ :,%=\\^$|()[]*?{}~`#&;<>'\"!\n\t\r\x00\x7f") + [
    "٣",
    "ａ",
    "é",
    "\u200b",
]
CORNERS = [
    "",
    "@",
    "@@",
    "a",
    "@a",
    "a\n",
    "a\n\n",
    "\na",
    "foo/bar",
    "foo/",
    "@foo",
    "foo@bar",
    "a b",
    "[a-z]*",
    "@[x",
    "refs/heads/master",
    "refs/heads/master\n",
    "٣",
    "a٣",
    "ａ",
]


def samples(n: int = 20000, seed: int = 6) -> list[str]:
    rnd = random.Random(seed)
    out = list(CORNERS)
    for _ in range(n):
        out.append("".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 8))))
    return out


SAMPLES = samples()


@pytest.mark.parametrize(
    "func, regex",
    [
        (names.is_repo_name, REPONAME_PATT),
        (names.is_repo_pattern, REPOPATT_PATT),
        (names.is_user_name, USERNAME_PATT),
        (names.is_ref, REF_OR_FILENAME_PATT),
    ],
)
def test_name_checks_equal_their_regexes(func, regex) -> None:  # type: ignore[no-untyped-def]
    for s in SAMPLES:
        # perl=True is the regex's own `match` (its `$` allows one final newline);
        # the default is a whole-string match.
        assert func(s, perl=True) == bool(regex.match(s)), repr(s)
        assert func(s) == (bool(regex.match(s)) and not s.endswith("\n")), repr(s)


def test_user_names_are_whole_and_bounded() -> None:
    # the default (every caller in the package): full match, at most 128 characters
    limit = names.MAX_USER_NAME_LENGTH
    assert limit == 128
    assert names.is_user_name("a" * limit) and not names.is_user_name("a" * (limit + 1))
    assert names.is_user_name("a" * (limit + 1), perl=True)  # gitolite's regex has no limit
    for bad in ("carol\n", "carol\n\n", "\ncarol", "car ol", "carol\r"):
        assert not names.is_user_name(bad), repr(bad)
    assert names.is_user_name("carol\n", perl=True)  # what `$` alone would let through


def test_unsafe_value_chars_equal_gitolites_regex() -> None:
    for s in SAMPLES:
        assert names.has_unsafe_chars(s) == bool(UNSAFE_PATT.search(s)), repr(s)


def test_whole_name_checks_refuse_a_final_newline() -> None:
    assert names.is_repo_name("foo") and not names.is_repo_name("foo\n")
    assert names.is_repo_name("foo\n", perl=True) and not names.is_repo_name("foo\n\n", perl=True)


def test_remote_command_and_safe_ref_and_sha() -> None:
    remote = re.compile(r"[-0-9a-zA-Z._@/+ :,%=]*")
    for s in SAMPLES:
        assert names.is_remote_command(s) == bool(remote.fullmatch(s)), repr(s)
        assert names.safe_ref(s) == SAFE_REF_CHARS.sub(".", s), repr(s)
    sha = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
    for s in ["a" * 40, "0" * 64, "A" * 40, "a" * 39, "a" * 41, "g" * 40, "٣" * 40, ""]:
        assert names.is_sha(s) == bool(sha.fullmatch(s)), s


KEYS = [
    "foo/..*",
    "users/CREATOR/..*",
    "ab*c",
    "a{2}b",
    "[a-z]..*",
    "foo|bar",
    "(x|y)/z",
    "a+b",
    "a?b",
    "plain",
    "x\\.y",
    ".*",
    "^anchored",
    "trailing$",
    "fo.o",
    "CREATOR/[0-9]+",
]


def test_literal_prefix_never_rules_out_a_match() -> None:
    rnd = random.Random(7)
    words = [
        "foo",
        "fo",
        "f",
        "users",
        "bob",
        "a",
        "aa",
        "b",
        "c",
        "ab",
        "x",
        "y",
        "z",
        ".",
        "/",
        "1",
    ]
    names_ = ["".join(rnd.choice(words) for _ in range(rnd.randint(0, 4))) for _ in range(3000)]
    names_ += ["foo/x", "users/bob/r", "ac", "abbbc", "aab", "bar", "x/z", "b", "plain", "x.y"]
    for key in KEYS:
        compiled = re.compile("^" + key + "$")
        for name in names_:
            if compiled.search(name):
                assert check.may_match(key, name), (key, name)
    assert check.literal_prefix("foo/..*") == "foo/"
    assert check.literal_prefix("ab*c") == "a"
    assert check.literal_prefix("foo|bar") is None
    assert not check.may_match("users/CREATOR/..*", "other/x")  # skipped without a regex


REFEXES = [
    "refs/heads/",
    "refs/.*",
    "refs/heads/master",
    ".*",
    "refs/tags/v[0-9]",
    "refs/heads/a.b",
    "x\\.*",
]
REFS = [
    "refs/heads/master",
    "refs/heads/main",
    "refs/tags/v1",
    "refs/heads/a.b",
    "refs/heads/axb",
    "x",
    "x.",
    "",
    "refs",
]


def test_refex_fast_path_equals_the_regex() -> None:
    for refex in REFEXES:
        for ref in REFS:
            assert check.refex_matches(refex, ref) == bool(re.search("^" + refex, ref)), (
                refex,
                ref,
            )


def test_permission_letters_equal_gitolites_regex() -> None:
    # every permission the rule language allows, plus orders only a typo would write
    perms = [*ALL_PERMS, "RWCDM", "CRW", "RWMC"]
    for aa in ["R", "W", "+", "C", "D", "M", "^C", "RW+", "RW"]:
        aaq = aa.replace("+", "\\+", 1)
        if aaq == "C":
            aaq = "RW.*C"
        aaq = aaq.replace("M", ".*M", 1)
        for perm in perms:
            assert check.perm_allows(aa, perm) == bool(re.search(aaq, perm)), (aa, perm)


def test_a_bad_regex_is_an_error_not_a_crash() -> None:
    with pytest.raises(check.RegexError):
        check.rx("refs/heads/(")
