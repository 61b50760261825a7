"""``option buildkite.*`` is checked where the conf is compiled (bkoptions via conf/parse.py):
a typo or a malformed value is a conf error with file:line and a did-you-mean, never a
repo whose CI is silently off; values compiled earlier are caught at push time too."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gitolite_triggers import bkoptions
from gitolite_triggers.buildkite import config
from gitolite_triggers.rc import load_rc

CONF = """\
repo gitolite-admin
    RW+     =   admin
repo foo
    RW+     =   alice
    option buildkite.brnaches = main
repo bar
    RW+     =   alice
    option buildkite.pipeline = no-slash
    option buildkite.enabled = maybe
    option buildkite.tags = 1
repo good
    option buildkite.pipeline = example-org/app
    option buildkite.branches = main release/*
    option buildkite.enabled = 0
"""


def test_compile_refuses_bad_buildkite_options_with_file_line(server) -> None:
    (server.admin_base / "conf").mkdir(parents=True, exist_ok=True)
    (server.admin_base / "conf" / "gitolite.conf").write_text(CONF)
    r = server.cli("compile")
    assert r.returncode != 0
    err = r.stderr
    assert "conf/gitolite.conf:5: unknown option 'buildkite.brnaches'" in err
    assert "did you mean 'buildkite.branches'?" in err
    assert (
        "conf/gitolite.conf:8: option 'buildkite.pipeline': 'no-slash' is not ORG/PIPELINE" in err
    )
    assert "conf/gitolite.conf:9: option 'buildkite.enabled': 'maybe' is not a switch" in err
    assert ":10:" not in err and ":12:" not in err and ":13:" not in err  # good lines pass
    good = "\n".join(line for line in CONF.splitlines() if "brnaches" not in line)
    good = good.replace("no-slash", "o/p").replace("maybe", "yes") + "\n"
    (server.admin_base / "conf" / "gitolite.conf").write_text(good)
    r = server.cli("compile")
    assert r.returncode == 0, r.stderr
    assert config.option_problems(load_rc()) == []


def test_options_compiled_before_the_check_stop_the_build_with_a_reason(server) -> None:
    rc = load_rc()
    targets, why = config.targets_for(rc, "foo", options={"buildkite.brnaches": "main"})
    assert targets == [] and why.startswith("bad option: unknown option 'buildkite.brnaches'")
    targets, why = config.targets_for(rc, "foo", options={"buildkite.pipeline": "a/b/c"})
    assert targets == [] and "not ORG/PIPELINE" in why
    targets, why = config.targets_for(rc, "foo", options={"buildkite.pipeline": "a/b"})
    assert [t.name for t in targets] == ["a/b"] and why == ""


@given(st.text(max_size=40), st.text(max_size=80))
def test_problem_is_total_and_agrees_with_the_readers(key: str, value: str) -> None:
    why = bkoptions.problem("buildkite." + key, value)
    assert why is None or isinstance(why, str)
    if key not in bkoptions.KEYS:
        assert why is not None
    elif key == "pipeline" and why is None:
        org, pipe = bkoptions.split_pipeline(value) or ("", "")
        assert bkoptions.is_slug(org) and bkoptions.is_slug(pipe)
    elif key == "enabled" and why is None:
        assert value.strip().lower() in bkoptions.TRUE_WORDS + bkoptions.FALSE_WORDS
    if why is None:
        assert not any(ord(c) < 32 for c in value)


def test_did_you_mean_and_slugs() -> None:
    assert "did you mean 'buildkite.pipeline'" in (
        bkoptions.problem("buildkite.pipelin", "a/b") or ""
    )
    assert "did you mean" not in (bkoptions.problem("buildkite.zzzzzz", "1") or "")
    assert bkoptions.split_pipeline(" example-org/app ") == ("example-org", "app")
    assert bkoptions.problem("buildkite.pipeline", "a/b\n") is not None  # control chars
    for bad in ("a/", "/b", "a/b/c", "-a/b", "a b/c"):
        assert bkoptions.split_pipeline(bad) is None, bad
    assert bkoptions.problem("buildkite.branches", "!") is not None


def test_check_lists_bad_options_of_rules_compiled_before_the_check(server) -> None:
    from gitolite_triggers.conf.compile import build_entries, conf_repo_names
    from gitolite_triggers.conf.parse import parse_conf
    from gitolite_triggers.conf.store import store_path, write_store
    from gitolite_triggers.repos import init_bare

    conf = server.admin_base / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "gitolite.conf").write_text(
        "repo foo\n    RW+ = alice\n    option buildkite.tags = 1\n"
    )
    rc = load_rc()
    init_bare(rc, "foo")  # as compile would have
    parsed = parse_conf(conf)
    # what an older compiler let through
    parsed.configs["foo"].append((parsed.seq + 1, "gitolite-options.buildkite.brnaches", "main"))
    write_store(store_path(rc), *build_entries(parsed, conf_repo_names(parsed)))
    problems = config.option_problems(rc)
    assert len(problems) == 1 and problems[0].startswith(
        "repo foo: unknown option 'buildkite.brnaches'"
    )
    r = server.cli("buildkite", "check")
    assert r.returncode == 1
    assert "FAIL repo foo: unknown option 'buildkite.brnaches'" in r.stdout
    assert "did you mean 'buildkite.branches'?; that repo does not build" in r.stdout
