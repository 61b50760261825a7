"""The rc: fragments and their merge rules, validation messages with file:line, the cache."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.server import Server


def show(server: Server, key: str | None = None) -> str:
    r = server.cli("rc", "show", *([key] if key else []))
    assert r.returncode == 0, r.stderr
    return r.stdout


# --- merging ---------------------------------------------------------------------------


def test_defaults_without_any_rc(server: Server) -> None:
    server.rc_d.joinpath("10-defaults.yaml").unlink()
    assert show(server, "GL_REPO_BASE").strip() == str(server.repo_base)
    assert show(server, "GL_ADMIN_BASE").strip() == str(server.admin_base)
    assert show(server, "UMASK").strip() == "0077"  # octal, as an admin writes it
    assert json.loads(show(server, "ROLES")) == ["READERS", "WRITERS"]
    assert show(server, "LOG_TEMPLATE").strip() == f"{server.admin_base}/logs/gitolite-%y-%m.log"


def test_shipped_post_compile_list_with_sources(server: Server) -> None:
    out = show(server, "POST_COMPILE").splitlines()
    src = server.rc_d / "10-defaults.yaml"
    assert out == [
        f"post-compile/ssh-authkeys    # {src}:8",
        f"post-compile/update-git-configs    # {src}:9",
        f"post-compile/update-gitweb-access-list    # {src}:10",
        f"post-compile/update-git-daemon-access-list    # {src}:11",
    ]


def test_scalars_override_in_file_order(server: Server) -> None:
    server.write_rc("UMASK: 0077\nGIT_CONFIG_KEYS: 'a\\..*'\n")
    server.write_rc("UMASK: 0027\n", name="20-a.yaml")
    server.write_rc("UMASK: '0022'\n", name="30-b.yaml")
    assert show(server, "UMASK").strip() == "0022"
    assert show(server, "GIT_CONFIG_KEYS").strip() == "a\\..*"


def test_lists_append_in_file_order_main_rc_first(server: Server) -> None:
    server.write_rc("PRE_GIT:\n  - one\n")
    server.write_rc("PRE_GIT:\n  - three\n", name="30-b.yaml")
    server.write_rc("PRE_GIT:\n  - two x y\n", name="20-a.yaml")
    out = [line.split("    #")[0] for line in show(server, "PRE_GIT").splitlines()]
    assert out == ["one", "two x y", "three"]


def test_fragment_removes_and_replaces_inherited_entries(server: Server) -> None:
    frag = server.write_rc(
        "POST_COMPILE:\n"
        "  - remove: post-compile/update-gitweb-access-list\n"
        "  - replace: post-compile/ssh-authkeys\n"
        "    with: {program: my-keys, args: [--fast], timeout: 20, on_failure: continue}\n",
        name="50-local.yaml",
    )
    out = show(server, "POST_COMPILE").splitlines()
    assert out[0] == f"my-keys --fast  [timeout=20s, on_failure=continue]    # {frag}:3"
    assert [line.split("    #")[0] for line in out[1:]] == [
        "post-compile/update-git-configs",
        "post-compile/update-git-daemon-access-list",
    ]
    server.write_rc("POST_COMPILE:\n  - remove: '*'\n  - only-me\n", name="60-x.yaml")
    assert [line.split("    #")[0] for line in show(server, "POST_COMPILE").splitlines()] == [
        "only-me"
    ]


def test_remove_that_matches_nothing_warns_in_check(server: Server) -> None:
    path = server.write_rc("PRE_GIT:\n  - remove: nothing-here\n", name="50-x.yaml")
    r = server.cli("rc", "check")
    assert r.returncode == 0
    assert f"{path}:2:5: remove 'nothing-here' matched no inherited entry" in r.stderr


def test_hook_lists_merge_like_trigger_lists(server: Server) -> None:
    server.write_rc("hooks:\n  pre-receive:\n    - a\n    - b\n")
    server.write_rc("hooks:\n  pre-receive:\n    - remove: a\n    - c\n", name="50-x.yaml")
    assert [line.split("    #")[0] for line in show(server, "hooks.pre-receive").splitlines()] == [
        "b",
        "c",
    ]


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("PRE_GIT:\n  - [unclosed\n", "3:1", "YAML syntax error"),
        (
            "UMASK: 0077\nLOCAL_CODE: /x\nUMASK: 0022\n",
            "3:1",
            "duplicate key 'UMASK' (first defined at line 1)",
        ),
        ("buildkit:\n  api_url: x\n", "1:1", "buildkit: unknown key"),
        (
            "PRE_GIT:\n  - program: x\n    timeout: soon\n",
            "3:14",
            "PRE_GIT[0].timeout: expected a number of seconds (0: no timeout), got 'soon'",
        ),
        (
            "PRE_GIT:\n  - program: x\n    on_failure: ignore\n",
            "3:17",
            "PRE_GIT[0].on_failure: expected one of 'abort', 'continue', got 'ignore'",
        ),
        ("PRE_GIT:\n  - args: [a]\n", "2:5", "PRE_GIT[0]: missing required key 'program'"),
        ("PRE_GIT:\n  - program: x\n    argz: [1]\n", "3:5", "PRE_GIT[0]: unknown key 'argz'"),
        (
            "PRE_GIT:\n  - 12\n",
            "2:5",
            'PRE_GIT[0]: expected a string "program arg..." or a mapping',
        ),
        (
            "PRE_GIT: just-a-string\n",
            "1:10",
            "PRE_GIT: expected a list of trigger entries, got 'just-a-string'",
        ),
        ("UMASK: 0999\n", "1:8", "UMASK: expected an octal umask"),
        ("GL_REPO_BASE: [a]\n", "1:15", "GL_REPO_BASE: expected a directory path, got a list"),
        ("ROLES: [readers]\n", "1:9", "ROLES[0]: expected"),
        ("hooks:\n  pre-push: [x]\n", "2:3", "hooks: unknown key 'pre-push'"),
        ("- just\n- a list\n", "1:1", "the rc must be a mapping"),
    ],
)
def test_validation_errors_name_file_line_and_column(
    server: Server, text: str, where: str, message: str
) -> None:
    path = server.write_rc(text, name="50-bad.yaml")
    r = server.cli("rc", "check")
    assert r.returncode == 1
    assert f"{path}:{where}: " in r.stderr, r.stderr
    assert message in r.stderr, r.stderr


def test_unknown_key_suggests_the_nearest_known_one(server: Server) -> None:
    server.write_rc("local_code: /srv/x\n")
    r = server.cli("rc", "check")
    assert r.returncode == 1
    assert "did you mean 'LOCAL_CODE'?" in r.stderr


def test_trigger_shaped_typo_is_kept_but_warned(server: Server) -> None:
    path = server.write_rc("POST_COMPLIE:\n  - foo\n")
    r = server.cli("rc", "check")
    assert r.returncode == 0
    assert (
        f"{path}:1:1: POST_COMPLIE: kept as a custom trigger, but did you mean POST_COMPILE?"
        in r.stderr
    )
    assert "POST_COMPLIE" in server.cli("trigger", "NOPE").stderr


def test_check_named_files(server: Server, tmp_path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("PRE_GIT: [a]\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("PRE_GIT: [a]\nPRE_GIT: [b]\n")
    assert server.cli("rc", "check", str(good)).returncode == 0
    r = server.cli("rc", "check", str(good), str(bad))
    assert r.returncode == 1 and f"{bad}:2:1: duplicate key 'PRE_GIT'" in r.stderr
    assert server.cli("rc", "check", str(tmp_path / "missing.yaml")).returncode == 1


def test_every_other_command_fails_closed_on_an_invalid_rc(server: Server) -> None:
    path = server.write_rc("POST_COMPILE:\n  - {program: x, timeout: -1}\n")
    for args in (("trigger", "POST_COMPILE"), ("rc", "show")):
        r = server.cli(*args)
        assert r.returncode == 1
        assert f"{path}:2:" in r.stderr and "refusing to run" in r.stderr


# --- the cache -------------------------------------------------------------------------


def test_cache_is_rebuilt_when_a_source_changes(server: Server) -> None:
    server.write_rc("PRE_GIT:\n  - one\n")
    assert "one" in show(server, "PRE_GIT")
    cache = server.home / ".gitolite.rc.yaml.cache"
    assert cache.exists()
    # A new fragment, a changed fragment, a removed fragment: each is noticed.
    frag = server.write_rc("PRE_GIT:\n  - two\n", name="50-x.yaml")
    assert "two" in show(server, "PRE_GIT")
    frag.write_text("PRE_GIT:\n  - three-changed\n")
    assert "three-changed" in show(server, "PRE_GIT")
    frag.unlink()
    out = show(server, "PRE_GIT")
    assert "three-changed" not in out and "one" in out
    # An edit that breaks the rc is never hidden by the old cache: the last good rc is
    # served, and said to be; the next edit that validates is served at once.
    time.sleep(0.01)
    server.write_rc("PRE_GIT:\n  - one\n  bad: [\n")
    r = server.cli("rc", "show", "PRE_GIT")
    assert r.returncode == 0 and "running on the last good rc" in r.stderr, r.stderr
    server.write_rc("PRE_GIT:\n  - four\n")
    r = server.cli("rc", "show", "PRE_GIT")
    assert "four" in r.stdout and "last good" not in r.stderr, r.stderr


def test_a_warm_cache_reads_no_yaml(server: Server) -> None:
    server.write_rc("PRE_GIT:\n  - tests.support.callables:fail7\n")
    probe = (
        "import sys\n"
        "from gitolite_triggers.rc import load_rc\n"
        "from gitolite_triggers.runner import fire, Options\n"
        "rc = load_rc()\n"
        "status = fire(rc, 'PRE_GIT', 'repo', 'user', opts=Options(stdout_to_stderr=True))\n"
        "bad = sorted(m for m in ('yaml', 'jsonschema') if m in sys.modules)\n"
        "print(status, ','.join(bad) or 'clean')\n"
    )
    first = server.python(probe)
    assert first.stdout.split() == ["7", "jsonschema,yaml"], (
        first.stderr
    )  # cold: the cache is built
    warm = server.python(probe)
    assert warm.stdout.split() == ["7", "clean"], warm.stderr


def test_bad_regex_in_buildkite_repos_is_caught_with_its_line(server: Server) -> None:
    path = server.write_rc(
        "buildkite:\n  pipelines:\n    - repos: 'foo(['\n      org: o\n      pipeline: p\n",
        name="50-bk.yaml",
    )
    r = server.cli("rc", "check")
    assert r.returncode == 1
    assert (
        f"{path}:3:14: buildkite.pipelines[0].repos: expected a regex matched against the whole repo name"
        in r.stderr
    )


# --- the last good rc (docs/reliability.md) -------------------------------------------


def _break_rc(server: Server) -> Path:
    time.sleep(0.01)  # a new mtime even on a coarse clock
    return server.write_rc("PRE_GIT:\n  - one\n   bad: [\n", name="60-oops.yaml")


def test_a_bad_edit_serves_the_last_good_rc_loudly(server: Server) -> None:
    server.write_rc("PRE_GIT:\n  - first\n")
    assert "first" in show(server, "PRE_GIT")
    last_good = server.home / ".gitolite.rc.yaml.last-good"
    assert oct(last_good.stat().st_mode & 0o777) == "0o600"
    bad = _break_rc(server)
    for _ in range(2):  # the second run takes the cached fallback: same answer
        r = server.cli("rc", "show", "PRE_GIT")
        assert r.returncode == 0 and "first" in r.stdout
        assert r.stderr.startswith("WARNING: the rc is invalid (1 error;"), r.stderr
    warns = [ln for ln in server.log_text().splitlines() if "\twarn\tthe rc is invalid" in ln]
    assert len(warns) == 2  # one line per command (per session)
    check = server.cli("rc", "check")
    assert check.returncode == 1 and f"{bad}:3:" in check.stderr
    assert "until it is valid the server runs on the last good rc" in check.stderr
    bad.write_text("PRE_GIT:\n  - second\n")
    r = server.cli("rc", "show", "PRE_GIT")
    assert "first" in r.stdout and "second" in r.stdout and r.stderr == ""


@pytest.mark.parametrize("damage", ["missing", "truncated", "symlink", "other-version"])
def test_no_usable_last_good_rc_fails_closed(server: Server, damage: str) -> None:
    assert show(server, "UMASK")
    last_good = server.home / ".gitolite.rc.yaml.last-good"
    data = last_good.read_bytes()
    last_good.unlink()
    if damage == "truncated":
        last_good.write_bytes(data[: len(data) // 2])
    elif damage == "symlink":
        real = server.home / "elsewhere"
        real.write_bytes(data)
        last_good.symlink_to(real)
    elif damage == "other-version":
        doc = json.loads(data)
        doc["version"] = 1
        last_good.write_text(json.dumps(doc))
    _break_rc(server)
    r = server.cli("rc", "show")
    assert r.returncode == 1 and "invalid rc, refusing to run" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("cut", [0, 10, 60, -1])
def test_a_truncated_or_damaged_cache_is_rebuilt(server: Server, cut: int) -> None:
    server.write_rc("PRE_GIT:\n  - kept\n")
    assert "kept" in show(server, "PRE_GIT")
    cache = server.home / ".gitolite.rc.yaml.cache"
    data = cache.read_bytes()
    cache.write_bytes(data[:cut] if cut >= 0 else data[:-1] + b"\xff")
    r = server.cli("rc", "show", "PRE_GIT")
    assert r.returncode == 0 and "kept" in r.stdout and r.stderr == "", r.stderr
    assert cache.read_bytes() == data  # rebuilt whole


def test_a_cache_that_is_a_symlink_is_not_followed(server: Server) -> None:
    server.write_rc("PRE_GIT:\n  - kept\n")
    assert "kept" in show(server, "PRE_GIT")
    cache = server.home / ".gitolite.rc.yaml.cache"
    planted = server.home / "planted"
    planted.write_bytes(cache.read_bytes())
    cache.unlink()
    cache.symlink_to(planted)
    assert "kept" in show(server, "PRE_GIT")
    assert not cache.is_symlink()  # replaced by the rebuild, the link's target untouched
