"""The sshd fixture itself: real sshd, keys from ssh-authkeys, HOME reaches the wrapper, no leftovers."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import Server
from tests.support.sshd import SshClient, Sshd, install_keys, make_key, pid_alive


def test_sshd_runs_wrapper_with_sandbox_home_and_stops(server: Server, tmp_path: Path) -> None:
    alice = make_key(tmp_path / "keys", "alice")
    stranger = make_key(tmp_path / "keys", "stranger")
    ak = install_keys(server, [alice])
    assert 'command="' in ak.read_text() and "gitolite-triggers shell alice" in ak.read_text()
    sshd = Sshd(tmp_path / "sshd", home=server.home)
    with sshd:
        pid = sshd.pid
        assert pid and pid_alive(pid)
        r = SshClient(sshd, alice).ssh("help")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("hello alice, this is ")
        assert "\tperms\n" in r.stdout
        # the wrapper ran with the sandbox HOME: its log is the sandbox account's
        logs = list((server.admin_base / "logs").glob("gitolite-*.log"))
        assert logs, "no log in the sandbox admin base"
        text = logs[0].read_text()
        assert "\tssh\tARGV=alice\tSOC=help\tFROM=127.0.0.1" in text
        denied = SshClient(sshd, stranger).ssh("help")
        assert denied.returncode == 255 and "Permission denied" in denied.stderr
    assert sshd.pid is None
    assert not pid_alive(pid)
    assert not sshd.pidfile.exists()
