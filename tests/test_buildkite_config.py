"""The rc's buildkite section: validation with file:line, per-repo overrides, the token."""

from __future__ import annotations

import os

import pytest

from gitolite_triggers.buildkite import config
from gitolite_triggers.rc import load_rc
from tests.support.standin import TOKEN, bk_rc


def test_valid_section_passes_rc_check(server):
    server.write_rc(
        bk_rc("https://api.buildkite.com/v2", extra="  token_file: ~/.buildkite-token\n")
    )
    r = server.cli("rc", "check")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("snippet", "line", "needle"),
    [
        (
            "  pipelines:\n    - repos: foo\n      org: example-org\n",
            3,
            "missing required key 'pipeline'",
        ),
        (
            "  pipelines:\n    - repos: foo\n      org: example org\n      pipeline: p\n",
            4,
            "organization slug",
        ),
        (
            "  pipelines:\n    - repos: foo\n      org: o\n      pipeline: p\n      tags: maybe\n",
            6,
            "true, false, or a list of tag globs",
        ),
        (
            "  pipelines:\n    - repos: foo\n      org: o\n      pipeline: p\n      env: {1BAD: x}\n",
            6,
            "env",
        ),
        ("  api_url: ftp://x\n", 2, "http(s) URL"),
        ("  read_timeout: 0\n", 2, "greater than 0"),
        ("  retry: {initial_delay: fast}\n", 2, "seconds"),
        ("  tokenfile: ~/.t\n", 2, "unknown key 'tokenfile'"),
    ],
)
def test_bad_values_are_reported_with_file_and_line(server, snippet, line, needle):
    path = server.write_rc("buildkite:\n" + snippet)
    r = server.cli("rc", "check")
    assert r.returncode == 1
    assert f"{path}:{line}:" in r.stderr, r.stderr
    assert needle in r.stderr, r.stderr


RC = """buildkite:
  pipelines:
    - repos: "foo|apps/.*"
      org: example-org
      pipeline: apps
      branches: ["main", "release/*", "!release/old*"]
      env: {DEPLOY: "1"}
    - repos: ".*"
      org: example-org
      pipeline: catch-all
      tags: ["v*"]
"""


def test_first_matching_pipeline_and_branch_filters(server):
    server.write_rc(RC)
    rc = load_rc()
    t = config.target_for(rc, "apps/web", options={})
    assert (t.org, t.pipeline, t.env) == ("example-org", "apps", {"DEPLOY": "1"})
    assert t.wants("refs/heads/main") == "main"
    assert t.wants("refs/heads/release/1.2") == "release/1.2"
    assert t.wants("refs/heads/release/old-1") is None
    assert t.wants("refs/heads/topic") is None
    assert t.wants("refs/tags/v1") is None  # tags: false by default
    assert config.target_for(rc, "apps", options={}).pipeline == "catch-all"  # whole-name match
    other = config.target_for(rc, "other", options={})
    assert other.pipeline == "catch-all" and other.wants("refs/heads/anything") == "anything"
    assert other.wants("refs/tags/v2.0") == "v2.0" and other.wants("refs/tags/x1") is None
    assert other.wants("refs/notes/commits") is None and other.wants("refs/meta/config") is None


def test_per_repo_options_override_the_rc(server):
    server.write_rc(RC)
    rc = load_rc()
    t = config.target_for(
        rc,
        "foo",
        options={"buildkite.pipeline": "other-org/special", "buildkite.branches": "dev feature/*"},
    )
    assert (t.org, t.pipeline) == ("other-org", "special")
    assert t.env == {"DEPLOY": "1"}  # the rest of the matching entry still applies
    assert t.wants("refs/heads/feature/x") == "feature/x" and t.wants("refs/heads/main") is None
    assert config.target_for(rc, "foo", options={"buildkite.enabled": "0"}) is None
    t = config.target_for(rc, "foo", options={"buildkite.tags": "1"})
    assert t.wants("refs/tags/anything") == "anything"
    assert config.target_for(rc, "foo", options={"buildkite.pipeline": "no-slash"}) is None


def test_option_alone_configures_a_repo(server):
    rc = load_rc()  # shipped rc.d only: no pipelines
    assert config.target_for(rc, "foo", options={}) is None
    t = config.target_for(rc, "foo", options={"buildkite.pipeline": "o/p"})
    assert (t.org, t.pipeline, t.wants("refs/heads/x")) == ("o", "p", "x")


def test_token_file_must_be_0600(server, monkeypatch):
    tf = server.home / ".buildkite-token"
    tf.write_text(TOKEN + "\n")
    server.write_rc("buildkite:\n  token_file: ~/.buildkite-token\n")
    s = config.settings(load_rc())
    assert s.token_file == str(tf)
    os.chmod(tf, 0o644)
    with pytest.raises(config.TokenError) as e:
        config.load_token(s)
    assert "mode 0644" in str(e.value) and "chmod 600" in str(e.value) and TOKEN not in str(e.value)
    os.chmod(tf, 0o600)
    assert config.load_token(s) == TOKEN
    tf.unlink()
    with pytest.raises(config.TokenError, match="cannot read token_file"):
        config.load_token(s)


def test_token_from_environment(server, monkeypatch):
    s = config.settings(load_rc())
    with pytest.raises(config.TokenError, match="BUILDKITE_API_TOKEN"):
        config.load_token(s)
    monkeypatch.setenv("BUILDKITE_API_TOKEN", TOKEN)
    assert config.load_token(s) == TOKEN
