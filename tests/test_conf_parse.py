"""gitolite.conf syntax: each element parsed as gitolite does, each error naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitolite_triggers.conf.errors import ConfError
from gitolite_triggers.conf.parse import cleanup, parse_conf
from tests.support.confgen import ALL_PERMS


def conf(tmp_path: Path, text: str, files: dict[str, str] | None = None, **kw) -> object:
    d = tmp_path / "conf"
    d.mkdir(exist_ok=True)
    (d / "gitolite.conf").write_text(text)
    for rel, body in (files or {}).items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(body)
    return parse_conf(d, **kw)


def error(tmp_path: Path, text: str, files: dict[str, str] | None = None, **kw) -> str:
    with pytest.raises(ConfError) as e:
        conf(tmp_path, text, files, **kw)
    return str(e.value)


# -- line clean-up -------------------------------------------------------------------


def test_cleanup_comments_spacing_and_quotes() -> None:
    assert cleanup("  repo   foo\tbar   # a comment") == "repo foo bar"
    assert cleanup("RW+=alice") == "RW+ = alice"
    assert cleanup("# only a comment") == ""
    assert (
        cleanup('config x.y = "a # not a comment" # comment') == 'config x.y = "a # not a comment"'
    )
    assert cleanup("config a.b = x=y") == "config a.b = x=y"  # only the first '=' is spaced


# -- groups --------------------------------------------------------------------------


def test_groups_cumulative_and_nested_expanded_at_definition(tmp_path: Path) -> None:
    p = conf(tmp_path, "@a = u1\n@b = @a u2\n@a = u3\n@c = @all u4\n")
    assert set(p.groups["@a"]) == {"u1", "u3"}
    assert set(p.groups["@b"]) == {"u1", "u2"}  # u3 came after @b was defined
    assert set(p.groups["@c"]) == {"@all", "u4"}


def test_undefined_nested_group_is_an_error_with_line(tmp_path: Path) -> None:
    assert (
        error(tmp_path, "@a = u1\n\n@b = @nope u2\n")
        == "conf/gitolite.conf:3: undefined group '@nope'"
    )


def test_group_name_and_member_checked(tmp_path: Path) -> None:
    assert error(tmp_path, "@a; = u1\n") == "conf/gitolite.conf:1: bad group '@a;'"
    assert error(tmp_path, "@a = u1 b;c\n") == "conf/gitolite.conf:1: bad expansion 'b;c'"
    assert error(tmp_path, "@a =\n") == "conf/gitolite.conf:1: syntax error: '@a ='"


# -- repo lines and rules ------------------------------------------------------------


def test_repo_line_names_groups_patterns_and_seq(tmp_path: Path) -> None:
    p = conf(tmp_path, "repo foo @grp dev/..* @all\n  RW+ = alice bob\n  R master dev = carol\n")
    for key in ("foo", "@grp", "dev/..*", "@all"):
        assert p.repos[key]["alice"] == [(1, "RW+", "refs/.*")]
        assert p.repos[key]["bob"] == [(2, "RW+", "refs/.*")]
        # ref x user expansions each take a sequence number, refs/heads/ is added
        assert p.repos[key]["carol"] == [(3, "R", "refs/heads/master"), (4, "R", "refs/heads/dev")]
    assert any(
        "doesn't make sense to supply a ref" in w and "gitolite.conf:3" in w for w in p.warnings
    )


def test_dot_git_suffix_dropped_with_warning(tmp_path: Path) -> None:
    p = conf(tmp_path, "repo foo.git\n  R = u\n")
    assert "foo" in p.repos
    assert p.warnings == ["conf/gitolite.conf:1: explicit '.git' extension ignored for foo.git"]


def test_all_perm_forms_accepted(tmp_path: Path) -> None:
    perms = ALL_PERMS
    text = "repo foo\n" + "".join(f"  {p} = u{i}\n" for i, p in enumerate(perms))
    p = conf(tmp_path, text)
    assert [p.repos["foo"][f"u{i}"][0][1] for i in range(len(perms))] == perms


def test_refs_refgroups_and_prefixes(tmp_path: Path) -> None:
    p = conf(tmp_path, "@rf = master refs/tags/v.*\nrepo foo\n  RW @rf refs/x VREFX = u\n")
    assert [r[2] for r in p.repos["foo"]["u"]] == [
        "refs/heads/master",
        "refs/tags/v.*",
        "refs/x",
        "refs/heads/VREFX",
    ]


def test_creator_and_roles_become_groups(tmp_path: Path) -> None:
    p = conf(
        tmp_path,
        "repo a/CREATOR/..*\n  C = @all\n  RW+ = CREATOR\n  R = READERS OTHERS\n",
        roles=["READERS", "OTHERS"],
    )
    users = p.repos["a/CREATOR/..*"]
    assert set(users) == {"@all", "@CREATOR", "@READERS", "@OTHERS"}
    assert not p.warnings  # roles and CREATOR are never "undeclared groups"


def test_undeclared_group_only_warns(tmp_path: Path) -> None:
    p = conf(tmp_path, "repo foo\n  R = @ghosts\n")
    assert p.warnings == ["conf/gitolite.conf:2: possible undeclared group '@ghosts'"]


def test_rw_cdm_options_once_per_repo_block(tmp_path: Path) -> None:
    p = conf(
        tmp_path,
        "repo a\n  RWC = u\n  RW+CD = v\n  RWM = w\nrepo b\n  RW+ = u\nrepo c\n  RW+D = u\n",
    )
    keys = [c[1] for c in p.configs["a"]]
    assert keys == [
        "gitolite-options.CREATE_IS_C",
        "gitolite-options.DELETE_IS_D",
        "gitolite-options.MERGE_CHECK",
    ]
    assert "b" not in p.configs
    assert [c[1:] for c in p.configs["c"]] == [("gitolite-options.DELETE_IS_D", "1")]


def test_bad_rule_parts(tmp_path: Path) -> None:
    assert (
        error(tmp_path, "repo foo\n  RW = al;ice\n")
        == "conf/gitolite.conf:2: bad username 'al;ice'"
    )
    assert (
        error(tmp_path, "repo foo\n  RW a;b = u\n")
        == "conf/gitolite.conf:2: bad ref 'refs/heads/a;b'"
    )
    assert error(tmp_path, "repo foo\n  RW ma(ster = u\n").startswith(
        "conf/gitolite.conf:2: bad refex 'refs/heads/ma(ster'"
    )
    assert (
        error(tmp_path, "repo foo\n  RW @nogroup = u\n")
        == "conf/gitolite.conf:2: undefined group '@nogroup'"
    )
    assert error(tmp_path, "repo foo\n  RX = u\n") == "conf/gitolite.conf:2: syntax error: 'RX = u'"
    assert error(tmp_path, "repo fo;o\n") == "conf/gitolite.conf:1: bad reponame 'fo;o'"
    assert error(tmp_path, "repo foo[\n").startswith(
        "conf/gitolite.conf:1: bad repo pattern 'foo['"
    )
    assert error(tmp_path, "repo\n") == "conf/gitolite.conf:1: syntax error: 'repo'"


# -- config, option, desc/owner ------------------------------------------------------


def test_config_keys_must_match_git_config_keys(tmp_path: Path) -> None:
    text = "repo foo\n  config core.sharedRepository = group\n"
    assert (
        error(tmp_path, text)
        == "conf/gitolite.conf:2: git config 'core.sharedRepository' not allowed (check GIT_CONFIG_KEYS in the rc)"
    )
    p = conf(
        tmp_path,
        text + '  config hooks.MAILINGLIST = "a@b"\n  config core.x =\n',
        config_keys="core\\..* HOOKS\\.mailinglist",
    )
    assert [c[1:] for c in p.configs["foo"]] == [
        ("core.sharedRepository", "group"),
        ("hooks.MAILINGLIST", "a@b"),
        ("core.x", ""),
    ]


def test_config_value_unsafe(tmp_path: Path) -> None:
    assert (
        error(tmp_path, "repo foo\n  config a.b = $(rm -rf)\n", config_keys=".*")
        == "conf/gitolite.conf:2: bad config value '$(rm -rf)'"
    )


def test_option_env_and_gitweb_lines(tmp_path: Path) -> None:
    p = conf(
        tmp_path,
        'repo foo\n  option ENV.CI = yes\n  option deny-rules = 1\n  desc = "The foo project"\n  owner = Alice Smith\n  category = tools\n',
    )
    assert [c[1:] for c in p.configs["foo"]] == [
        ("gitolite-options.ENV.CI", "yes"),
        ("gitolite-options.deny-rules", "1"),
        ("gitweb.description", "The foo project"),
        ("gitweb.owner", "Alice Smith"),
        ("gitweb.category", "tools"),
    ]
    assert [c[0] for c in p.configs["foo"]] == [1, 2, 3, 4, 5]  # configs take sequence numbers too


def test_option_without_value_is_an_error(tmp_path: Path) -> None:
    assert error(tmp_path, "repo foo\n  option deny-rules =\n").startswith(
        "conf/gitolite.conf:2: syntax error: 'option deny-rules ='"
    )


def test_unknown_line_is_an_error_not_ignored(tmp_path: Path) -> None:
    assert (
        error(tmp_path, "repo foo\n  R = u\nfrobnicate everything\n")
        == "conf/gitolite.conf:3: syntax error: 'frobnicate everything'"
    )


def test_several_errors_all_reported(tmp_path: Path) -> None:
    msg = error(tmp_path, "repo fo;o\n  RW = a;b\nbogus\n")
    assert msg.splitlines() == [
        "conf/gitolite.conf:1: bad reponame 'fo;o'",
        "conf/gitolite.conf:2: bad username 'a;b'",
        "conf/gitolite.conf:3: syntax error: 'bogus'",
    ]


# -- not supported -------------------------------------------------------------------


def test_vref_rules_parsed(tmp_path: Path) -> None:
    """VREF refexes are stored as they are; gitolite's sugar makes ``NAME/`` ``VREF/NAME/``
    in rule lines (and only there)."""
    p = conf(
        tmp_path,
        "repo foo\n  RW+ = u\n  - VREF/NAME/secret = u\n  - NAME/x NAME/y = v\n"
        "  RW+ VREF/COUNT/5/NEWFILES = u\n  RW+ NAME/z = w\n  config a.NAME/b = 1\n",
        config_keys="a\\..*",
    )
    refs = [(perm, refex) for rules in p.repos["foo"].values() for _, perm, refex in rules]
    assert ("-", "VREF/NAME/secret") in refs
    assert ("-", "VREF/NAME/x") in refs and ("-", "VREF/NAME/y") in refs
    assert ("RW+", "VREF/COUNT/5/NEWFILES") in refs and ("RW+", "VREF/NAME/z") in refs
    assert p.configs["foo"][0][1] == "a.NAME/b"


def test_subconf_prefixes_its_groups_and_keeps_to_its_repos(tmp_path: Path) -> None:
    p = conf(
        tmp_path,
        '@x = r1 r2\n@devs = u9\nrepo foo\n  R = u\nsubconf "sub/*.conf"\n',
        {"sub/x.conf": "@devs = u1\n@mine = r1\nrepo @mine r3\n  RW = @devs\n  R = @x\n"},
    )
    assert p.groups["@x.devs"] == {"u1": None} and p.groups["@devs"] == {"u9": None}
    assert p.groups["@x.mine"] == {"r1": None}
    assert set(p.repos["r1"]) == {"@x.devs", "@x"} and "r3" not in p.repos
    assert "expanding '@mine'; this *may* slow down compilation (conf/sub/x.conf:3)" in p.warnings
    assert "subconf 'x' attempting to set access for r3" in p.warnings


# -- include -------------------------------------------------------------------------


def test_include_glob_order_and_locations(tmp_path: Path) -> None:
    files = {
        "inc/b.conf": "repo b\n  R = u\n",
        "inc/A.conf": "repo a\n  R = u\n",
        "inc/c.conf": "\n\nrepo c\n  RW = u\n  RX = v\n",
    }
    msg = error(tmp_path, 'repo top\n  R = u\ninclude "inc/*.conf"\nrepo after\n  R = u\n', files)
    assert msg == "conf/inc/c.conf:5: syntax error: 'RX = v'"
    files["inc/c.conf"] = "repo c\n  RW = u\n"
    p = conf(tmp_path, 'repo top\n  R = u\ninclude "inc/*.conf"\nrepo after\n  R = u\n', files)
    order = sorted(p.repos, key=lambda k: p.repos[k]["u"][0][0])
    assert order == ["top", "a", "b", "c", "after"]  # Perl glob order: case-insensitive
    assert p.files == [
        "conf/gitolite.conf",
        "conf/inc/A.conf",
        "conf/inc/b.conf",
        "conf/inc/c.conf",
    ]


def test_include_once_missing_and_bad_names(tmp_path: Path) -> None:
    p = conf(
        tmp_path,
        'include "x.conf"\ninclude \'x.conf\'\ninclude "none.conf"\n',
        {"x.conf": "repo x\n  R = u\n"},
    )
    assert "conf/gitolite.conf:2: x.conf already included" in p.warnings
    assert "conf/gitolite.conf:3: included file not found: 'none.conf'" in p.warnings
    assert (
        error(tmp_path, "include x.conf\n")
        == "conf/gitolite.conf:1: invalid include file/glob 'x.conf' (quote it: include \"file.conf\")"
    )
    assert (
        error(tmp_path, 'include "notes.txt"\n', {"notes.txt": "hi\n"})
        == "conf/gitolite.conf:1: invalid include filename 'notes.txt' (must end in .conf)"
    )
    # including the main file again is refused as already included
    p = conf(tmp_path, 'include "gitolite.conf"\nrepo z\n  R = u\n')
    assert p.warnings == ["conf/gitolite.conf:1: gitolite.conf already included"]


def test_missing_conf_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    with pytest.raises(ConfError) as e:
        parse_conf(tmp_path / "conf")
    assert str(e.value).startswith("conf/gitolite.conf:0: cannot read")


def test_testconf_block_skipped(tmp_path: Path) -> None:
    p = conf(tmp_path, "repo foo\n  R = u\n=begin testconf\nthis is not conf\n= end\n  RW = v\n")
    assert set(p.repos["foo"]) == {"u", "v"}


def test_bad_git_config_keys_regex_is_reported(tmp_path: Path) -> None:
    msg = error(tmp_path, "repo foo\n  R = u\n", config_keys="core\\..* gitweb\\.(")
    assert msg.startswith("rc:0: GIT_CONFIG_KEYS entry 'gitweb\\.(' is not a valid regex")


def test_repo_names_that_would_escape_the_repo_base(tmp_path: Path) -> None:
    assert (
        error(tmp_path, "repo a/../../etc\n  R = u\n")
        == "conf/gitolite.conf:1: bad reponame 'a/../../etc': contains '..'"
    )
    assert (
        error(tmp_path, "repo a/\n") == "conf/gitolite.conf:1: bad reponame 'a/': ends with a '/'"
    )
    assert (
        error(tmp_path, "repo x.git/y\n")
        == "conf/gitolite.conf:1: bad reponame 'x.git/y': contains '.git/'"
    )


def test_hostname_substituted_as_gitolite(tmp_path: Path) -> None:
    """t/hostname.t: %HOSTNAME is the rc's HOSTNAME, as a whole word; without one (or as
    part of a longer word) it stays, and is then a bad ref."""
    text = "repo bar\n  RW %HOSTNAME/ = u1\n  RW %HOSTNAME-baz = u1\n  config x.y = %HOSTNAME\n"
    p = conf(tmp_path, text, hostname="frodo", config_keys="x\\..*")
    refs = [refex for _, _, refex in p.repos["bar"]["u1"]]
    assert refs == ["refs/heads/frodo/", "refs/heads/frodo-baz"]
    assert p.configs["bar"][0][1:] == ("x.y", "frodo")
    assert "bad ref 'refs/heads/%HOSTNAME_baz'" in error(
        tmp_path, "repo bar\n  RW %HOSTNAME_baz = u1\n", hostname="frodo"
    )
    assert "bad ref 'refs/heads/dev/%HOSTNAME'" in error(
        tmp_path, "repo foo\n  RW dev/%HOSTNAME = u1\n"
    )
