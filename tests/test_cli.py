"""The `gitolite-triggers` dispatcher and the built-in show-args program."""

from __future__ import annotations

from tests.support.server import Server


def test_usage_lists_every_command(server: Server) -> None:
    r = server.cli("--help")
    assert r.returncode == 0
    for name in ("rc", "trigger", "access", "compile", "setup", "shell", "buildkite", "demo"):
        assert f"  {name} " in r.stdout


def test_no_command_and_unknown_command_are_usage_errors(server: Server) -> None:
    assert server.cli().returncode == 2
    r = server.cli("frobnicate")
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr


def test_version(server: Server) -> None:
    r = server.cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("gitolite-triggers ")


def test_show_args_builtin_prints_argv_and_identity(server: Server) -> None:
    server.write_rc("PRE_GIT:\n  - show-args one\n")
    r = server.cli(
        "trigger",
        "PRE_GIT",
        "foo",
        "alice",
        "R",
        "any",
        "git-upload-pack",
        extra_env={"GL_USER": "alice"},
    )
    assert r.returncode == 0, r.stderr
    assert (
        "show-args: argv=['one', 'PRE_GIT', 'foo', 'alice', 'R', 'any', 'git-upload-pack']"
        in r.stderr
    )
    assert "GL_USER=alice" in r.stderr and "GL_REPO=foo" in r.stderr
