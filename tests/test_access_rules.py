"""The access check's semantics (gitolite's access(); docs/conf.md) and the query API, in-process.

Each test compiles a small conf into a sandboxed account with ``compile_conf`` and asks
``gitolite_triggers.conf.query``; the expected strings are gitolite's (the differential
test checks the same against the real gitolite on generated confs).
"""

from __future__ import annotations

import os
import shutil

import pytest

from gitolite_triggers import repos
from gitolite_triggers.conf import query
from gitolite_triggers.conf.compile import compile_conf
from gitolite_triggers.conf.errors import AccessError
from gitolite_triggers.rc import load_rc
from tests.support.server import Server


def compile_text(server: Server, text: str) -> None:
    d = server.admin_base / "conf"
    d.mkdir(parents=True, exist_ok=True)
    (d / "gitolite.conf").write_text(text)
    compile_conf(load_rc())


def acc(repo: str, user: str, perm: str = "R", ref: str = "any") -> str:
    return query.access(load_rc(), repo, user, perm, ref)


def wild(repo: str, creator: str, perms: str | None = None) -> None:
    path = repos.init_bare(load_rc(), repo)
    (path / "gl-creator").write_text(creator + "\n")
    if perms is not None:
        (path / "gl-perms").write_text(perms)


def test_before_first_compile_everything_is_denied(server: Server) -> None:
    assert acc("foo", "alice") == "R any foo alice DENIED by fallthru"
    assert query.options_for(load_rc(), "foo") == {}
    assert query.conf_repos(load_rc()) == []


def test_allowed_returns_refex_denied_returns_gitolite_line(server: Server) -> None:
    compile_text(server, "repo foo\n  RW+ = alice\n  RW master = bob\n  R = carol\n")
    assert acc("foo", "alice", "+", "refs/heads/x") == "refs/.*"
    assert acc("foo", "bob", "W", "refs/heads/master") == "refs/heads/master"
    assert acc("foo", "bob", "W", "refs/heads/dev") == "W refs/heads/dev foo bob DENIED by fallthru"
    assert (
        acc("foo", "bob", "+", "refs/heads/master")
        == "+ refs/heads/master foo bob DENIED by fallthru"
    )
    assert acc("foo", "carol", "W") == "W any foo carol DENIED by fallthru"
    assert acc("foo", "dave") == "R any foo dave DENIED by fallthru"
    assert query.is_denied(acc("foo", "dave")) and not query.is_denied(acc("foo", "carol"))


def test_refex_is_a_prefix_regex(server: Server) -> None:
    compile_text(server, "repo foo\n  RW master = u\n  RW dev$ = v\n  RW refs/tags/v[0-9] = w\n")
    assert acc("foo", "u", "W", "refs/heads/master2") == "refs/heads/master"
    assert acc("foo", "v", "W", "refs/heads/dev2") == "W refs/heads/dev2 foo v DENIED by fallthru"
    assert acc("foo", "v", "W", "refs/heads/dev") == "refs/heads/dev$"
    assert acc("foo", "w", "W", "refs/tags/v1.0") == "refs/tags/v[0-9]"
    assert acc("foo", "w", "W", "refs/tags/x") == "W refs/tags/x foo w DENIED by fallthru"


def test_user_in_refex(server: Server) -> None:
    compile_text(server, "repo foo\n  RW+ USER/ = @all\n")
    assert acc("foo", "alice", "+", "refs/heads/alice/x") == "refs/heads/alice/"
    assert (
        acc("foo", "alice", "+", "refs/heads/bob/x")
        == "+ refs/heads/bob/x foo alice DENIED by fallthru"
    )


def test_first_match_in_global_order_across_blocks(server: Server) -> None:
    compile_text(
        server, "@devs = alice bob\nrepo @all\n  - master = bob\nrepo foo\n  RW+ = @devs\n"
    )
    assert (
        acc("foo", "bob", "W", "refs/heads/master")
        == "W refs/heads/master foo bob DENIED by refs/heads/master"
    )
    assert acc("foo", "bob", "W", "refs/heads/dev") == "refs/.*"
    assert acc("foo", "alice", "W", "refs/heads/master") == "refs/.*"


def test_deny_rules_skipped_at_any_unless_option(server: Server) -> None:
    compile_text(
        server,
        "repo foo bar baz\n  - = u2\n  R = @all\nrepo bar\n  option deny-rules = 1\nrepo baz\n  option deny-rules = 1\n  option deny-rules = 0\n",
    )
    assert acc("foo", "u2") == "refs/.*"
    assert acc("bar", "u2") == "R any bar u2 DENIED by refs/.*"
    assert acc("baz", "u2") == "refs/.*"  # a later 0 switches it off again (gitolite: "0" is false)
    assert (
        acc("foo", "u2", "W", "refs/heads/master") == "W refs/heads/master foo u2 DENIED by refs/.*"
    )


def test_groups_repo_groups_and_regex_members(server: Server) -> None:
    compile_text(
        server,
        "@g1 = alice\n@g2 = @g1 bob\n@g1 = carol\nrepo @rg\n  RW = @g2\n@rg = foo\n@rp = tmp/[a-z]+\nrepo @rp\n  R = carol\nrepo tmp/[a-z]+\n  C = @all\n",
    )
    assert acc("foo", "alice", "W") == "refs/.*"
    assert acc("foo", "bob", "W") == "refs/.*"
    assert (
        acc("foo", "carol", "W") == "W any foo carol DENIED by fallthru"
    )  # added to @g1 after @g2 copied it
    wild("tmp/abc", "bob")
    assert acc("tmp/abc", "carol") == "refs/.*"


def test_wild_patterns_anchored_at_both_ends(server: Server) -> None:
    compile_text(server, "repo tmp/[a-z]+\n  C = u\n  RW+ = u\n")
    assert acc("tmp/abc", "u", "^C") == "refs/.*"
    assert acc("tmp/abc1", "u", "^C") == "^C any tmp/abc1 u DENIED by fallthru"
    assert acc("xtmp/abc", "u", "^C") == "^C any xtmp/abc u DENIED by fallthru"
    # a missing repo: any check first needs ^C, and reports it as the asked perm
    assert acc("tmp/abc1", "u", "R") == "R any tmp/abc1 u DENIED by fallthru"
    wild("tmp/abc", "u")
    assert acc("tmp/abc", "u", "^C") == "^C any tmp/abc u DENIED by existence"
    assert acc("tmp/abc", "u", "+", "refs/heads/x") == "refs/.*"


def test_creator_roles_and_gl_perms(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    compile_text(
        server,
        "@team = dora\nrepo dev/CREATOR/..*\n  C = @all\n  RW+ = CREATOR\n  RW = WRITERS\n  R = READERS\n",
    )
    # not created yet: the creator is $GL_USER
    monkeypatch.delenv("GL_USER", raising=False)
    assert acc("dev/alice/x", "alice", "^C") == "^C any dev/alice/x alice DENIED by fallthru"
    monkeypatch.setenv("GL_USER", "alice")
    assert acc("dev/alice/x", "alice", "^C") == "refs/.*"
    assert acc("dev/bob/x", "alice", "^C") == "^C any dev/bob/x alice DENIED by fallthru"
    monkeypatch.delenv("GL_USER")
    wild("dev/alice/x", "alice", "READERS carol @team\n# comment\nWRITERS = bob\nBOGUS eve\n")
    assert acc("dev/alice/x", "alice", "+", "refs/heads/m") == "refs/.*"
    assert acc("dev/alice/x", "bob", "W", "refs/heads/m") == "refs/.*"
    assert (
        acc("dev/alice/x", "bob", "+", "refs/heads/m")
        == "+ refs/heads/m dev/alice/x bob DENIED by fallthru"
    )
    assert acc("dev/alice/x", "carol") == "refs/.*"
    assert acc("dev/alice/x", "dora") == "refs/.*"  # through @team in gl-perms
    assert (
        acc("dev/alice/x", "eve") == "R any dev/alice/x eve DENIED by fallthru"
    )  # unknown role ignored
    assert query.creator(load_rc(), "dev/alice/x") == "alice"
    assert query.creator(load_rc(), "nope") is None


def test_custom_roles_from_rc(server: Server) -> None:
    server.write_rc("ROLES: [READERS, WRITERS, MAINTAINERS]\n", name="50-roles.yaml")
    compile_text(server, "repo w/..*\n  C = @all\n  RW+ = MAINTAINERS\n")
    wild("w/x", "zed", "MAINTAINERS @all\n")
    assert acc("w/x", "anyone", "+", "refs/heads/a") == "refs/.*"


def test_create_delete_merge_perms(server: Server) -> None:
    compile_text(
        server, "repo foo\n  RWC new/ = u\n  RW+D = u\n  RW = v\nrepo bar\n  RWM = u\n  RW+ = v\n"
    )
    assert acc("foo", "u", "C", "refs/heads/new/x") == "refs/heads/new/"
    assert acc("foo", "u", "C", "refs/heads/other") == "C refs/heads/other foo u DENIED by fallthru"
    assert acc("foo", "u", "D", "refs/heads/x") == "refs/.*"
    assert acc("foo", "v", "D", "refs/heads/x") == "D refs/heads/x foo v DENIED by fallthru"
    assert acc("bar", "u", "WM", "refs/heads/x") == "refs/.*"
    assert acc("bar", "v", "WM", "refs/heads/x") == "WM refs/heads/x bar v DENIED by fallthru"
    opts = query.options_for(load_rc(), "foo")
    assert opts == {"CREATE_IS_C": "1", "DELETE_IS_D": "1"}
    assert query.options_for(load_rc(), "bar") == {"MERGE_CHECK": "1"}


def test_hooks_not_ours_denies_everything(server: Server) -> None:
    compile_text(server, "repo foo\n  RW+ = u\n")
    rc = load_rc()
    hook = repos.repo_path(rc, "foo") / "hooks" / "update"
    hook.unlink()
    hook.write_text("#!/bin/sh\nexit 0\n")
    assert acc("foo", "u", "W", "refs/heads/x") == "W any foo u DENIED by fallthru"
    compile_conf(rc)  # compile re-links a repo's hooks
    assert acc("foo", "u", "W", "refs/heads/x") == "refs/.*"


def test_deleted_plain_repo_loses_its_rules(server: Server) -> None:
    compile_text(server, "repo foo\n  RW+ = u\n")
    shutil.rmtree(repos.repo_path(load_rc(), "foo"))
    assert acc("foo", "u") == "R any foo u DENIED by fallthru"


def test_bad_input_raises(server: Server) -> None:
    compile_text(server, "repo foo\n  RW+ = u\n")
    with pytest.raises(AccessError, match="invalid user 'a b'"):
        acc("foo", "a b")
    with pytest.raises(AccessError, match="invalid repo 'fo;o'"):
        acc("fo;o", "u")
    with pytest.raises(AccessError, match="contains '..'"):
        acc("a/../b", "u")
    with pytest.raises(AccessError, match="ends with '.git'"):
        acc("foo.git", "u")
    with pytest.raises(AccessError, match="invalid characters in ref"):
        acc("foo", "u", "W", "refs/heads/a;b")


def test_options_env_and_configs(server: Server) -> None:
    server.write_rc("GIT_CONFIG_KEYS: 'hooks\\..* core\\.x'\n", name="50-keys.yaml")
    compile_text(
        server,
        "repo @all\n  option ENV.SITE = main\nrepo foo\n  R = u\n  option ENV.CI = yes\n  option ENV.OFF = 0\n"
        '  config hooks.url = "http://h/%GL_REPO"\n  config core.x =\n  desc = "Foo thing"\n  owner = Ann\n'
        "  option buildkite.pipeline = org/foo\n",
    )
    rc = load_rc()
    assert query.options_for(rc, "foo") == {
        "ENV.SITE": "main",
        "ENV.CI": "yes",
        "buildkite.pipeline": "org/foo",
    }
    assert query.env_options(rc, "foo") == {"GL_OPTION_SITE": "main", "GL_OPTION_CI": "yes"}
    assert query.configs_for(rc, "foo") == {
        "hooks.url": "http://h/foo",
        "core.x": "",
        "gitweb.description": "Foo thing",
        "gitweb.owner": "Ann",
    }
    assert query.configs_for(rc, "bad;name") == {}


def test_bulk_queries(server: Server) -> None:
    compile_text(
        server,
        "@rg = r1 r2\nrepo @rg\n  R = u\nrepo r3 team/x\n  RW = v\nrepo pub/..*\n  C = @all\n",
    )
    rc = load_rc()
    assert query.conf_repos(rc) == ["r1", "r2", "r3", "team/x"]
    assert query.wild_patterns(rc) == ["pub/..*"]
    wild("pub/p", "u")
    os.makedirs(os.path.join(rc.repo_base, "pub", "p.git", "inner.git"))  # not looked into
    assert repos.physical_repos(rc) == ["pub/p", "r1", "r2", "r3", "team/x"]
    assert query.readable(rc, "u", ["r1", "r2", "r3", "nope", "bad;"]) == {"r1", "r2"}
    assert query.readable(rc, "v", repos.physical_repos(rc)) == {"r3", "team/x"}


def test_more_bad_repo_names(server: Server) -> None:
    compile_text(server, "repo foo\n  RW+ = u\n")
    with pytest.raises(AccessError, match="ends with a '/'"):
        acc("foo/", "u")
    with pytest.raises(AccessError, match="contains '.git/'"):
        acc("a.git/b", "u")
    with pytest.raises(AccessError, match="invalid repo ''"):
        acc("", "u")
