"""SOC parsing (gitolite_triggers/shell/soc.py) is pure: checked here without any process."""

from __future__ import annotations

import pytest

from gitolite_triggers.shell.soc import CommandRequest, GitRequest, SocError, parse


@pytest.mark.parametrize(
    ("soc", "verb", "repo"),
    [
        ("git-upload-pack 'foo'", "git-upload-pack", "foo"),
        ("git-upload-pack foo", "git-upload-pack", "foo"),
        ("git-upload-pack '/foo.git'", "git-upload-pack", "foo"),
        ("git-receive-pack '/foo/bar.git/'", "git-receive-pack", "foo/bar"),
        ("git-receive-pack 'foo/'", "git-receive-pack", "foo"),
        ("git-upload-archive 'a/b/c'", "git-upload-archive", "a/b/c"),
        ("git-upload-pack 'foo.git3'", "git-upload-pack", "foo"),  # gitolite's debug suffix
        ("git-upload-pack '@grp-x+y_z.1'", "git-upload-pack", "@grp-x+y_z.1"),
        ("git-upload-pack 'foo", "git-upload-pack", "foo"),  # quotes optional on each side
    ],
)
def test_git_verbs(soc: str, verb: str, repo: str) -> None:
    req = parse(soc)
    assert req == GitRequest(verb, repo)


def test_access_letter() -> None:
    assert parse("git-upload-pack foo").access == "R"
    assert parse("git-upload-archive foo").access == "R"
    assert parse("git-receive-pack foo").access == "W"


@pytest.mark.parametrize("soc", ["", "   "])
def test_empty_is_info(soc: str) -> None:
    assert parse(soc) == CommandRequest("info", ())


def test_commands() -> None:
    assert parse("perms foo/bar + READERS alice") == CommandRequest(
        "perms", ("foo/bar", "+", "READERS", "alice")
    )
    assert parse("help") == CommandRequest("help", ())


@pytest.mark.parametrize(
    ("soc", "message"),
    [
        ("git-upload-pack 'foo'\ntouch x", "I don't like newlines"),
        ("info\r", "I don't like newlines"),
        ("git-upload-pack foo\x00bar", "control characters"),
        ("git-upload-pack '//etc/passwd'", "invalid repo name"),
        ("git-upload-pack '~/foo'", "invalid repo name"),
        ("git-upload-pack 'foo/../bar'", "'foo/../bar' contains '..'"),  # gitolite's words
        ("git-upload-pack 'foo.git/x'", "contains '.git/'"),
        ("git-upload-pack 'foo//'", "ends with a '/'"),
        ("git-upload-pack --upload-pack=touch", "invalid repo name"),
        ("git-upload-pack '-x'", "invalid repo name"),
        ("git-upload-pack ''", "invalid repo name"),
        ("git-upload-pack f\u03bf\u03bf", "invalid repo name"),  # Greek omicrons
        ("git-upload-pack 'foo';touch x", "invalid repo name"),
        ("git-upload-pack foo bar", "invalid repo name"),
        ("git-upload-pack " + "a" * 5000, "command too long"),
        ("git upload-pack foo", "unknown git/gitolite command"),
        ("git-upload-packx foo", "unknown git/gitolite command"),
        ("create foo", "unknown git/gitolite command"),
        ("info ; id", "suspicious characters"),
        ("info; id", "unknown git/gitolite command"),
        ("perms ../x -l", "no relative paths"),
        ("info\u00a0x", "suspicious characters"),
    ],
)
def test_refused(soc: str, message: str) -> None:
    with pytest.raises(SocError) as e:
        parse(soc)
    assert message in str(e.value)


def test_message_escapes_and_truncates() -> None:
    with pytest.raises(SocError) as e:
        parse("x" * 3000)
    assert "command too long (3000" not in str(e.value)  # 3000 < limit: unknown command
    assert "...(3000 chars)" in str(e.value)
    with pytest.raises(SocError) as e:
        parse("git-upload-pack a\x01b")
    assert "\\x01" in str(e.value) and "\x01" not in str(e.value)
