"""Push options are hostile input: read bounded from git's variables (hooks/pushrecord.py),
then parsed (buildkite/pushopts.py) into skip, variables and notes, whatever they hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitolite_triggers.buildkite import pushopts
from gitolite_triggers.hooks.pushrecord import MAX_PUSH_OPTION_LEN, MAX_PUSH_OPTIONS, push_options


def test_reading_is_bounded_and_ignores_a_bad_count() -> None:
    env = {"GIT_PUSH_OPTION_COUNT": "100000"}
    env.update({f"GIT_PUSH_OPTION_{i}": "x" * 5000 for i in range(100)})
    got = push_options(env)
    assert len(got) == MAX_PUSH_OPTIONS + 1
    assert all(len(o) == MAX_PUSH_OPTION_LEN + 1 for o in got)
    for bad in ("", "-1", "1e3", "9" * 7, " 2", "２"):
        assert push_options({"GIT_PUSH_OPTION_COUNT": bad, "GIT_PUSH_OPTION_0": "ci.skip"}) == []
    assert push_options({"GIT_PUSH_OPTION_COUNT": "2", "GIT_PUSH_OPTION_0": "ci.skip"}) == [
        "ci.skip"
    ]


def test_parse_takes_what_it_should() -> None:
    p = pushopts.parse(
        ["ci.skip", "ci.variable=A=1", "ci.variable=A=2=3", "ci.variable=_b=", "other=x"]
    )
    assert p.skip and p.variables == {"A": "2=3", "_b": ""} and p.notes == []
    p = pushopts.parse(["ci.variable=A", "ci.variable==x", "ci.variable=9A=x", "ci.Skip"])
    assert not p.skip and p.variables == {} and len(p.notes) == 4
    p = pushopts.parse(["ci.variable=LONG=" + "v" * MAX_PUSH_OPTION_LEN, "ci.variable=OK=1"])
    assert p.variables == {"OK": "1"} and "longer than 1024 characters" in p.notes[0]
    p = pushopts.parse(["ci.variable=X=1"] * (MAX_PUSH_OPTIONS + 1))
    assert p.variables == {"X": "1"} and p.notes == [
        f"too many push options: only the first {MAX_PUSH_OPTIONS} are read"
    ]


@given(st.lists(st.text(max_size=200), max_size=40))
def test_parse_never_fails_and_only_keeps_safe_variables(options: list[str]) -> None:
    p = pushopts.parse(options)
    for key, value in p.variables.items():
        assert pushopts.is_env_name(key) and not key.upper().startswith("BUILDKITE")
        assert not pushopts.steers_the_agent(key)
        assert not any(ord(c) < 32 or ord(c) == 127 for c in value)
    for note in p.notes:
        assert all(32 <= ord(c) < 127 for c in note), note
    assert len(p.notes) <= len(options) + 1


@pytest.mark.parametrize(
    "key",
    ["GIT_SSH_COMMAND", "git_ssh", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "BASH_ENV", "ENV",
     "PATH", "HOME", "SSH_AUTH_SOCK", "NODE_OPTIONS", "PYTHONPATH", "PERL5OPT", "RUBYOPT",
     "JAVA_TOOL_OPTIONS", "PROMPT_COMMAND", "IFS", "SHELLOPTS"],
)  # fmt: skip
def test_variables_that_steer_the_agents_own_processes_are_refused(key: str) -> None:
    """A pusher's variable must not change how the agent checks out or runs hooks (git's
    ssh command, the dynamic loader, the shell's startup file...): with the agent's own
    credentials, before any step of the pipeline runs."""
    p = pushopts.parse([f"ci.variable={key}=x", "ci.variable=DEPLOY_ENV=staging"])
    assert p.variables == {"DEPLOY_ENV": "staging"}
    assert len(p.notes) == 1 and "ignored" in p.notes[0]
