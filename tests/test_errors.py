"""One way to fail: ``errors.Fatal`` raised anywhere, reported once by ``guard.guarded``.

Each case runs in its own process as the account, as a command or hook would: what the
audience reads on stderr, the exit status, and the ``die`` records the log gets (exactly
one per failure: the hostile corpus counts them too).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import Server

RUN = """
import sys
from gitolite_triggers.errors import Fatal, RcError, fatal_lines
from gitolite_triggers.guard import guarded

def run():
    print("done before the refusal")
    {body}

sys.exit(guarded(run, client={client}))
"""


def run(server: Server, body: str, client: bool) -> tuple[int, str, str, list[str]]:
    r = server.python(RUN.format(body=body, client=client))
    dies = [ln for ln in server.log_text().splitlines() if "\tdie\t" in ln]
    return r.returncode, r.stdout, r.stderr, dies


@pytest.mark.parametrize("client", [True, False])
def test_a_fatal_is_its_message_its_status_and_one_die_record(server: Server, client: bool) -> None:
    """Raised deep in a command: the message as it is (to a client too), after stdout."""
    body = "raise Fatal('repo foo is not yours\\n(or you mis-spelled the reponame)', 3)"
    code, out, err, dies = run(server, body, client)
    assert code == 3
    assert out == "done before the refusal\n"
    assert err == "FATAL: repo foo is not yours\n(or you mis-spelled the reponame)\n"
    assert len(dies) == 1 and dies[0].endswith(
        "\tdie\trepo foo is not yours\\x0a(or you mis-spelled the reponame)"
    )


def test_log_fields_and_several_lines(server: Server) -> None:
    body = "raise Fatal(fatal_lines('conf:1: bad', 'nothing changed'), log=('gitolite-admin', 'bob', 'why'))"
    code, _, err, dies = run(server, body, True)
    assert code == 1
    assert err == "FATAL: conf:1: bad\nFATAL: nothing changed\n"
    assert len(dies) == 1 and dies[0].endswith("\tdie\tgitolite-admin\tbob\twhy")


def test_a_fatal_that_logs_nothing_leaves_the_account_alone(server: Server) -> None:
    """``log=()``: a refused ``setup`` must not make ~/.gitolite just for a log line."""
    code, _, err, dies = run(server, "raise Fatal('give --pubkey the .pub file', log=())", False)
    assert (code, err, dies) == (1, "FATAL: give --pubkey the .pub file\n", [])
    assert not server.admin_base.exists()


def test_a_broken_rc_is_generic_to_a_client_and_detailed_to_an_admin(server: Server) -> None:
    detail = f"{server.rc_file}:3:1: YAML syntax error"
    code, _, err, dies = run(server, f"raise RcError({detail!r})", True)
    assert code == 1 and err.startswith("FATAL: server configuration error; ask an admin (ref ")
    assert str(server.home) not in err
    assert len(dies) == 1 and detail in dies[0]
    code, _, err, _ = run(server, f"raise RcError({detail!r})", False)
    assert (code, err) == (1, f"FATAL: {detail}\n")


def test_a_broken_rc_reported_outside_guarded_is_still_generic_to_a_client(
    server: Server,
) -> None:
    """``refuse`` called directly (the admin push's post-update, a POST_COMPILE program)."""
    body = (
        "from gitolite_triggers.guard import refuse; "
        f"return refuse(RcError('{server.rc_file}:3:1: bad'))"
    )
    code, _, err, dies = run(server, body, True)
    assert code == 1 and err.startswith("FATAL: server configuration error; ask an admin (ref ")
    assert str(server.home) not in err
    assert len(dies) == 1 and f"{server.rc_file}:3:1: bad" in dies[0]


def test_an_unexpected_error_shows_a_client_no_traceback(server: Server) -> None:
    code, _, err, dies = run(server, "raise KeyError('/srv/secret/path')", True)
    assert code == 1 and err.startswith("FATAL: internal error; ask an admin (ref ")
    assert "Traceback" not in err and "/srv/secret" not in err
    assert len(dies) == 1 and "KeyError" in dies[0] and "Traceback" in dies[0]


def test_compile_of_a_bad_conf_is_one_refusal(server: Server) -> None:
    """``compile`` through recompile.compile_rules: each conf line behind FATAL:, one die."""
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text("repo foo\n    XYZ = bob\n")
    r = server.cli("compile")
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert lines[0].startswith("FATAL: conf/gitolite.conf:2: ") and "Traceback" not in r.stderr
    assert lines[-1] == "FATAL: compile failed; the previous compiled rules stay in force"
    dies = [ln for ln in server.log_text().splitlines() if "\tdie\t" in ln]
    assert len(dies) == 1 and "conf/gitolite.conf:2: " in dies[0]


def _refusal(server: Server, *args: str) -> tuple[int, str, str, list[str]]:
    r = server.cli(*args)
    dies = [ln for ln in server.log_text().splitlines() if "\tdie\t" in ln]
    return r.returncode, r.stdout, r.stderr, dies


def test_an_admin_commands_refusal_is_one_fatal_line_its_status_and_one_die(
    server: Server, tmp_path: Path
) -> None:
    """``rc show``, ``trigger``, ``access`` and ``buildkite deliver`` raise Fatal: guarded
    prints it and logs it as gitolite's ``_die`` does, with the status each always had."""
    code, out, err, dies = _refusal(server, "rc", "show", "NO_SUCH_KEY")
    assert (code, out, err) == (1, "", "FATAL: 'NO_SUCH_KEY' is not set in the rc\n")
    assert len(dies) == 1 and dies[0].endswith("\tdie\t'NO_SUCH_KEY' is not set in the rc")

    code, out, err, dies = _refusal(server, "trigger", "POST_GTI")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("FATAL: trigger 'POST_GTI' is not defined in the rc; defined triggers: ")
    assert len(dies) == 2 and "\tdie\ttrigger 'POST_GTI' is not defined" in dies[1]

    conf = server.admin_base / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "gitolite.conf").write_text("repo foo\n    RW+ = alice\n")
    assert server.cli("compile").returncode == 0
    code, out, err, dies = _refusal(server, "access", "foo", "alice", "X")
    assert (code, out) == (2, "") and err.startswith("FATAL: invalid perm 'X' (one of ")
    assert len(err.splitlines()) == 1
    assert len(dies) == 3 and "\tdie\tinvalid perm 'X'" in dies[2]
    # --batch answers a malformed line and goes on: output, not a refusal
    r = server.cli("access", "--batch", input="foo alice X\nfoo alice W\n")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.splitlines()[0].startswith("2\tinvalid perm 'X'")
    assert r.stdout.splitlines()[1].startswith("0\t")
    assert len([ln for ln in server.log_text().splitlines() if "\tdie\t" in ln]) == 3

    spool = tmp_path / "spool"
    server.write_rc(f"buildkite:\n  spool_dir: {spool}\n", name="90-spool.yaml")
    spool.mkdir(mode=0o700)
    spool.chmod(0o777)
    code, out, err, dies = _refusal(server, "buildkite", "deliver")
    assert (code, out) == (1, "") and err.startswith("FATAL: ") and "writable" in err
    assert len(err.splitlines()) == 1
    assert len(dies) == 4 and "writable" in dies[3]
