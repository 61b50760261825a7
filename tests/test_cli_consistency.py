"""The CLI as a new admin meets it: --help everywhere, --version, rc check, UMASK, trigger -v/--as."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gitolite_triggers import __version__
from gitolite_triggers.cli import COMMANDS
from tests.support.server import Server

# Every command and sub-action an admin can ask for help on.
HELP_TARGETS = [
    *([name] for name in COMMANDS),
    ["rc", "show"],
    ["rc", "check"],
    *(["buildkite", action] for action in ("status", "deliver", "retry", "check")),
]


def options_section(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("options:") + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("words", HELP_TARGETS, ids=" ".join)
def test_every_command_answers_help_with_exit_0_and_documents_every_option(
    server: Server, words: list[str]
) -> None:
    # A broken rc on purpose: asking for help must not need a valid rc (nor a file named --help).
    server.write_rc("PRE_GIT: [unclosed\n")
    for flag in ("--help", "-h"):
        r = server.cli(*words, flag)
        assert r.returncode == 0, (words, flag, r.stderr)
        assert r.stdout.startswith(f"usage: gitolite-triggers {' '.join(words)} "), r.stdout
        assert r.stderr == ""
    rows = options_section(r.stdout)
    assert rows[0].split() == ["-h,", "--help", "show", "this", "help", "message", "and", "exit"]
    for i, row in enumerate(rows):
        if row.startswith("  -"):
            flags_only = "  " not in row.strip()
            continued = i + 1 < len(rows) and rows[i + 1].startswith(" " * 6)
            assert not flags_only or continued, f"{words}: option without help: {row!r}"


def test_top_level_help_lists_version_and_help_command(server: Server) -> None:
    r = server.cli("--help")
    assert r.returncode == 0 and "-V, --version" in r.stdout and "-h, --help" in r.stdout
    for flag in ("--version", "-V"):
        r = server.cli(flag)
        assert (r.returncode, r.stdout) == (0, f"gitolite-triggers {__version__}\n")
    assert server.cli("help", "rc").stdout == server.cli("rc", "--help").stdout
    r = server.cli("help", "nosuch")
    assert r.returncode == 2 and "unknown command 'nosuch'" in r.stderr
    r = server.cli()
    assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith("usage:")


def test_usage_errors_exit_2_with_the_usage_on_stderr(server: Server) -> None:
    for words, message in [
        (["shell"], "expected exactly one argument, USER"),
        (["shell", "a", "b"], "expected exactly one argument, USER"),
        (["access", "-z", "foo", "alice"], "unknown option '-z'"),
        (["trigger", "--as"], "option '--as' needs a value"),
        (["trigger", "--verbose=1", "X"], "option '--verbose' takes no value"),
        (["compile", "extra"], "unrecognized arguments: extra"),
        (["rc", "frob"], "invalid choice"),
    ]:
        r = server.cli(*words)
        assert r.returncode == 2, words
        assert r.stdout == "" and r.stderr.startswith(f"usage: gitolite-triggers {words[0]} ")
        assert message in r.stderr, (words, r.stderr)


def test_hot_path_commands_do_not_import_argparse(server: Server) -> None:
    server.write_rc("PRE_GIT: [show-args]\n")
    for words in (["trigger", "PRE_GIT", "r", "u"], ["access", "-q", "foo", "alice"], ["shell"]):
        r = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "gitolite_triggers", *words],
            env=server.env,
            capture_output=True,
            text=True,
        )
        loaded = {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if "|" in line}
        assert "gitolite_triggers.cli" in loaded, r.stderr[-500:]
        assert "argparse" not in loaded, words


# --- rc check: every problem of every file in one run -------------------------------------


def test_rc_check_reports_every_problem_in_one_run(server: Server) -> None:
    main = server.write_rc(
        "UMASK: 0777\nFOO_BAR: 1\numask: 3\nPRE_GIT: [no-such-program]\nPOST_GIT: [x]\nPOST_GIT: []\n"
    )
    broken = server.write_rc("PRE_GIT: [unclosed\n", name="50-broken.yaml")
    bad = server.write_rc(
        "ACCESS_CHECK: [missing-guard]\nPOST_GIT: [{program: x, timeout: -1}]\n",
        name="60-bad.yaml",
    )
    r = server.cli("rc", "check")
    assert r.returncode == 1
    expected = [
        f"{main}:6:1: duplicate key 'POST_GIT'",
        f"{broken}:2:1: YAML syntax error",
        f"{bad}:2:34: POST_GIT[0].timeout: expected a number of seconds (0: no timeout)",
        f"{bad}:1: ACCESS_CHECK: program 'missing-guard' not found",
    ]
    for text in expected:
        assert text in r.stderr, (text, r.stderr)
    # The duplicate key stops the main rc's schema check (nothing else to check there) ...
    main.write_text("UMASK: 0777\nFOO_BAR: 1\numask: 3\nPRE_GIT: [no-such-program]\n")
    r = server.cli("rc", "check")
    assert r.returncode == 1
    expected = [
        f"{main}:1:8: UMASK: 0777 takes the account's own rwx away",
        f"{main}:2:10: FOO_BAR: expected a list of trigger entries, got 1",
        f"{main}:3:1: umask: unknown key",
        f"{main}:4: PRE_GIT: program 'no-such-program' not found",
        f"{broken}:2:1: YAML syntax error",
        f"{bad}:2:34: POST_GIT[0].timeout",
        f"{bad}:1: ACCESS_CHECK: program 'missing-guard' not found",
    ]
    for text in expected:
        assert text in r.stderr, (text, r.stderr)
    assert r.stderr.count("umask: unknown key") == 1  # not again as the schema's complaint


def test_every_duplicate_key_is_reported(server: Server, tmp_path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text("PRE_GIT: [a]\nPRE_GIT: [b]\nPOST_GIT: []\nPOST_GIT: []\n")
    r = server.cli("rc", "check", str(f))
    assert r.returncode == 1
    assert f"{f}:2:1: duplicate key 'PRE_GIT'" in r.stderr
    assert f"{f}:4:1: duplicate key 'POST_GIT'" in r.stderr


# --- UMASK ---------------------------------------------------------------------------------


def test_rc_show_umask_is_octal(server: Server) -> None:
    server.write_rc("UMASK: 0027\n")
    assert server.cli("rc", "show", "UMASK").stdout == "0027\n"
    assert "UMASK: 0027\n" in server.cli("rc", "show").stdout


@pytest.mark.parametrize("value", ["0777", "0700", "0400", "0100", "'0200'", "'700'", "0o077"])
def test_umask_taking_the_owners_rwx_is_refused_with_file_and_line(
    server: Server, value: str
) -> None:
    path = server.write_rc(f"# a comment\nUMASK: {value}\n")
    r = server.cli("rc", "check")
    assert r.returncode == 1 and f"{path}:2:8: UMASK: " in r.stderr, r.stderr
    if value != "0o077":  # YAML 1.1 reads 0o077 as text: refused, but not for its bits
        assert "takes the account's own rwx away" in r.stderr
    assert server.cli("rc", "show").returncode == 1  # fail closed: no command runs with it


@pytest.mark.parametrize(
    ("value", "shown"),
    [("0077", "0077"), ("0027", "0027"), ("'0022'", "0022"), ("0", "0000"), ("'77'", "0077")],
)
def test_umask_keeping_the_owners_rwx_is_accepted(server: Server, value: str, shown: str) -> None:
    server.write_rc(f"UMASK: {value}\n")
    assert server.cli("rc", "check").returncode == 0
    assert server.cli("rc", "show", "UMASK").stdout == f"{shown}\n"


# --- trigger -v and --as -------------------------------------------------------------------


def test_trigger_verbose_prints_argv_shell_quoted_as_dry_run(server: Server) -> None:
    server.write_rc("MY_SEQ:\n  - show-args one\n")
    words = ("MY_SEQ", "a b", "it's", "plain")
    verbose = server.cli("trigger", "-v", *words)
    dry = server.cli("trigger", "--dry-run", *words)
    assert verbose.returncode == 0 and dry.returncode == 0, verbose.stderr
    quoted = "one MY_SEQ 'a b' \"it's\" plain"
    assert dry.stdout.endswith(f" {quoted}\n"), dry.stdout
    assert f" {quoted}\n" in verbose.stderr, verbose.stderr
    assert "argv=['one'" not in verbose.stderr.split("show-args:")[0]


def test_trigger_as_user_sets_gl_user(server: Server) -> None:
    server.write_rc("MY_SEQ:\n  - show-args\n")
    r = server.cli("trigger", "MY_SEQ", "x")
    assert r.returncode == 0 and "GL_USER=alice" not in r.stderr
    r = server.cli("trigger", "--as", "alice", "MY_SEQ", "x")
    assert r.returncode == 0 and "GL_USER=alice" in r.stderr, r.stderr
    r = server.cli("trigger", "--as=bob", "MY_SEQ", "x", extra_env={"GL_USER": "alice"})
    assert "GL_USER=bob" in r.stderr and "GL_USER=alice" not in r.stderr
    for bad in ("al ice", "-x", "alice\n", ""):
        r = server.cli("trigger", "--as", bad, "MY_SEQ")
        assert r.returncode == 2 and "invalid user name" in r.stderr, (bad, r.stderr)
        assert "show-args" not in r.stderr
