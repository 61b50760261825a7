"""``gitolite-triggers access``: single form (output, -q, exit codes, defaults, C/D/M downgrade) and --batch."""

from __future__ import annotations

import sys

from tests.support.server import Server

CONF = "repo foo\n  RW+ = alice\n  RW master = bob\n  - = mallory\n  R = @all\nrepo cdm\n  RW+CD = alice\n  RW = bob\n"


def compiled(server: Server, text: str = CONF) -> Server:
    d = server.admin_base / "conf"
    d.mkdir(parents=True, exist_ok=True)
    (d / "gitolite.conf").write_text(text)
    p = server.cli("compile")
    assert p.returncode == 0, p.stderr
    return server


def test_single_allowed_and_denied(server: Server) -> None:
    compiled(server)
    p = server.cli("access", "foo", "alice", "W", "master")
    assert (p.returncode, p.stdout) == (0, "refs/.*\n")
    p = server.cli("access", "foo", "bob", "W", "dev")
    assert (p.returncode, p.stdout) == (1, "W refs/heads/dev foo bob DENIED by fallthru\n")
    p = server.cli("access", "-q", "foo", "bob", "W", "dev")
    assert (p.returncode, p.stdout) == (1, "")
    p = server.cli("access", "-q", "foo", "bob", "W", "master")
    assert (p.returncode, p.stdout) == (0, "")


def test_defaults_perm_plus_ref_any_and_prefixing(server: Server) -> None:
    compiled(server)
    assert server.cli("access", "foo", "bob").stdout == "+ any foo bob DENIED by fallthru\n"
    assert (
        server.cli("access", "foo", "bob", "W", "refs/tags/v1").stdout
        == "W refs/tags/v1 foo bob DENIED by fallthru\n"
    )
    # the deny rule is invisible at 'any' but not for a real ref
    assert server.cli("access", "foo", "mallory", "R").stdout == "refs/.*\n"
    assert (
        server.cli("access", "foo", "mallory", "W", "x").stdout
        == "W refs/heads/x foo mallory DENIED by refs/.*\n"
    )


def test_c_d_m_downgraded_where_the_repo_does_not_use_them(server: Server) -> None:
    compiled(server)
    # foo has no RWC/RW+D/RWM rule: C -> W, D -> +, M -> W
    assert server.cli("access", "foo", "bob", "C", "master").stdout == "refs/heads/master\n"
    assert (
        server.cli("access", "foo", "bob", "D", "master").stdout
        == "+ refs/heads/master foo bob DENIED by fallthru\n"
    )
    assert server.cli("access", "foo", "bob", "M", "master").stdout == "refs/heads/master\n"
    # cdm has them: C and D are real letters there
    assert (
        server.cli("access", "cdm", "bob", "C", "x").stdout
        == "C refs/heads/x cdm bob DENIED by fallthru\n"
    )
    assert server.cli("access", "cdm", "alice", "D", "x").stdout == "refs/.*\n"


def test_bad_input_is_fatal_exit_2(server: Server) -> None:
    compiled(server)
    for args, msg in [
        (("foo", "alice", "X"), "invalid perm 'X'"),
        (("foo", "al ice"), "invalid user 'al ice'"),
        (("fo;o", "alice"), "invalid repo 'fo;o'"),
        (("foo", "alice", "W", "a;b"), "invalid ref name 'refs/heads/a;b'"),
        (("foo",), "usage:"),
        (("-z", "foo", "alice"), "unknown option '-z'"),
    ]:
        p = server.cli("access", *args)
        assert p.returncode == 2, args
        assert msg in p.stderr and p.stdout == "", (args, p.stderr)


def test_batch_lines_in_order_with_codes(server: Server) -> None:
    compiled(server)
    lines = [
        "foo alice W master",
        "foo bob W dev",
        "",
        "foo bob W master extra",
        "foo bob Q master",
        "nope alice R any",
        "foo carol",
        "fo;o alice R any",
    ]
    p = server.cli("access", "--batch", input="\n".join(lines) + "\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "0\trefs/.*",
        "1\tW refs/heads/dev foo bob DENIED by fallthru",
        "2\texpected 'REPO USER PERM REF', got 0 field(s)",
        "2\texpected 'REPO USER PERM REF', got 5 field(s)",
        "2\tinvalid perm 'Q' (one of R W + C D M ^C)",
        "1\tR any nope alice DENIED by fallthru",
        "1\t+ any foo carol DENIED by fallthru",
        "2\tinvalid repo 'fo;o'",
    ]


def test_batch_answers_as_a_coprocess(server: Server) -> None:
    """Output is flushed per line: a caller can write a query and read its answer."""
    import subprocess

    compiled(server)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitolite_triggers", "access", "--batch"],
        env=server.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for q, want in [
            ("foo alice W master", "0\trefs/.*\n"),
            ("foo bob W dev", "1\tW refs/heads/dev foo bob DENIED by fallthru\n"),
        ]:
            proc.stdin.write(q + "\n")
            proc.stdin.flush()
            assert proc.stdout.readline() == want
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0


def test_invalid_rc_fails_closed(server: Server) -> None:
    compiled(server)
    bad = server.write_rc("UMASK: [not, valid]\n", name="50-bad.yaml")
    # On the last good rc (docs/reliability.md): answered, with the admin warned.
    p = server.cli("access", "foo", "alice", "W", "master")
    assert p.returncode == 0 and "running on the last good rc" in p.stderr, p.stderr
    # With no last good rc to fall back on: refused.
    (server.home / ".gitolite.rc.yaml.last-good").unlink()
    bad.write_text("UMASK: [still, not, valid]\n")
    p = server.cli("access", "foo", "alice", "W", "master")
    assert p.returncode == 1 and p.stdout == ""
    assert "50-bad.yaml" in p.stderr
    p = server.cli("access", "--batch", input="foo alice W master\n")
    assert p.returncode == 1 and p.stdout == ""
    p = server.cli("compile")
    assert p.returncode == 1 and "50-bad.yaml" in p.stderr


def test_corrupt_store_is_fatal_not_a_traceback(server: Server) -> None:
    compiled(server)
    (server.admin_base / "conf" / "compiled.rules").write_bytes(b"garbage")
    p = server.cli("access", "foo", "alice", "W", "master")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("FATAL: compiled rules file is truncated")
    p = server.cli("access", "--batch", input="foo alice W master\n")
    assert p.stdout == "2\tcompiled rules file is truncated\n"
    assert server.cli("compile").returncode == 0  # a compile repairs it
    assert server.cli("access", "foo", "alice", "W", "master").returncode == 0
