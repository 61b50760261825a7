"""Issue 15: no hang without an end. A trigger program that hangs is killed, with its whole
process group, when its timeout expires or when the client disconnects; the session's log
always gets its closing line.

A real sshd, real ssh clients, the real forced command: the client is killed with SIGKILL
while the program hangs (sshd then closes the session's channel), and the test waits for
the program's process group to be gone (no sleeps: conditions, with a deadline).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server, make_server
from tests.support.sshd import Sshd, SshKey, install_keys, make_key
from tests.support.sshworld import SshWorld, serve
from tests.support.standin import wait_until

CONF = """\
repo gitolite-admin
    RW+     =   admin

repo foo
    RW+     =   alice
"""
# Writes its process group to MARK, starts a grandchild in the same group, and hangs.
HANG = """\
#!{python}
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "600"])
with open({mark!r} + "." + sys.argv[1], "w") as f:  # argv[1]: the trigger name
    f.write(f"{{os.getpgid(0)}} {{child.pid}}")
while True:
    time.sleep(600)
"""


class World(SshWorld):
    def __init__(self, base: Path) -> None:
        self.base = base
        self.server: Server = make_server(base / "home")
        self.keys: dict[str, SshKey] = {u: make_key(base / "keys", u) for u in ("admin", "alice")}
        srv = self.server
        (base / "admin.pub").write_text(self.keys["admin"].pub + "\n")
        assert srv.cli("setup", "-pk", str(base / "admin.pub")).returncode == 0
        self.local = base / "local"
        (self.local / "triggers").mkdir(parents=True)
        self.mark = base / "mark"
        hang = self.local / "triggers" / "hang"
        hang.write_text(HANG.format(python=sys.executable, mark=str(self.mark)))
        hang.chmod(0o755)
        srv.write_rc(f"LOCAL_CODE: {self.local}\n", name="80-local.yaml")
        (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
        assert srv.cli("compile").returncode == 0
        install_keys(srv, [self.keys[u] for u in ("admin", "alice")])
        self.sshd = Sshd(base / "sshd", home=srv.home).start()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from serve(World(tmp_path_factory.mktemp("sessend")))


@pytest.fixture
def fragment(world: World) -> Iterator[Path]:
    path = world.server.rc_d / "90-hang.yaml"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        for p in world.base.glob("mark.*"):
            p.unlink()


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def marked(world: World, name: str) -> tuple[int, int]:
    path = world.base / f"mark.{name}"
    text = wait_until(lambda: path.exists() and path.read_text(), timeout=30)
    pgid, grandchild = (int(x) for x in str(text).split())
    return pgid, grandchild


@pytest.mark.parametrize("name", ["ACCESS_CHECK", "PRE_GIT", "POST_GIT"])
def test_a_killed_client_ends_the_hanging_program_and_its_group(
    world: World, fragment: Path, name: str
) -> None:
    # timeout 0: no timeout at all, so only the client's end can stop it
    fragment.write_text(f"{name}:\n  - {{program: hang, timeout: 0}}\n")
    c = world.client("alice")
    log_before = world.log()
    client = subprocess.Popen(
        [*c.ssh_argv(), "root@127.0.0.1", "git-upload-pack 'foo'"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=c.env(),
    )
    try:
        assert client.stdin is not None
        client.stdin.write(b"0000")  # the flush that ends upload-pack (for POST_GIT)
        client.stdin.flush()
        pgid, grandchild = marked(world, name)
        assert not group_gone(pgid)  # it hangs, in its own group
        assert pgid != os.getpgid(0)
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=30)
        wait_until(lambda: group_gone(pgid), timeout=30)
        assert not os.path.exists(f"/proc/{grandchild}")  # the grandchild went with it
        closing = wait_until(
            lambda: [
                ln
                for ln in world.log()[len(log_before) :].splitlines()
                if "\tdie\tfoo\talice\tclient disconnected:" in ln
            ],
            timeout=30,
        )
        assert f"{name} program 'hang'" in str(closing)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def test_the_default_timeout_ends_a_hang_and_the_client_is_told(
    world: World, fragment: Path
) -> None:
    """No ``timeout`` in the entry: TRIGGER_TIMEOUTS (overridden globally here) applies."""
    fragment.write_text("TRIGGER_TIMEOUTS: {default: 1}\nPRE_GIT: [hang]\n")
    c = world.client("alice")
    log_before = world.log()
    r = c.git("ls-remote", c.url("foo"), timeout=60)
    assert r.returncode != 0
    assert "PRE_GIT failed; ask an admin (ref " in r.stderr, r.stderr
    pgid, grandchild = marked(world, "PRE_GIT")
    wait_until(lambda: group_gone(pgid), timeout=30)  # killed; reaped by init meanwhile
    assert not os.path.exists(f"/proc/{grandchild}")
    new_log = world.log()[len(log_before) :]
    assert "'hang' timed out after 1s and was killed" in new_log
    assert "\tdie\t" in new_log.splitlines()[-1]  # the closing line: the refusal


def test_rc_show_tells_each_entry_its_timeout(world: World, fragment: Path) -> None:
    fragment.write_text(
        "TRIGGER_TIMEOUTS: {POST_GIT: 5}\nPOST_GIT: [hang, {program: hang, timeout: 0}]\n"
    )
    r = world.server.cli("rc", "show", "TRIGGER_TIMEOUTS")
    assert r.returncode == 0, r.stderr
    assert '"POST_COMPILE": 300' in r.stdout and '"default": 60' in r.stdout
    assert '"POST_GIT": 5' in r.stdout


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def test_a_signalled_session_ends_a_push_with_its_git_and_hooks(
    world: World, fragment: Path
) -> None:
    """SIGTERM to the forced command while a pre-receive program hangs (timeout 0): git's
    group and the program's group are killed, the ref does not move, the log closes."""
    fragment.write_text(
        "hooks:\n  pre-receive:\n    - {program: hang, args: [pre-receive], timeout: 0}\n"
    )
    srv = world.server
    srv.cli("setup", "--hooks-only")  # pre-receive is linked only where the rc gives it work
    c = world.client("alice")
    work = world.base / "push-work"
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=c.env())
    subprocess.run(["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True, env=c.env())  # fmt: skip
    log_before = world.log()
    push = subprocess.Popen(
        ["git", "-C", str(work), "push", c.url("foo"), "HEAD:refs/heads/hung"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=c.env(),
    )
    try:
        pgid, _ = marked(world, "pre-receive")
        hook = _parent(pgid)  # hang <- the hook's runner <- git receive-pack <- forced command
        receive_pack = _parent(hook)
        session = _parent(receive_pack)
        assert os.getpgid(receive_pack) == receive_pack  # git has a group of its own
        os.kill(session, signal.SIGTERM)
        wait_until(lambda: group_gone(pgid) and group_gone(receive_pack), timeout=30)
        push.wait(timeout=60)
        assert push.returncode != 0
        closing = wait_until(
            lambda: [
                ln
                for ln in world.log()[len(log_before) :].splitlines()
                if "\tdie\tfoo\talice\tsession ended by signal 15: git receive-pack" in ln
            ],
            timeout=30,
        )
        assert closing
        refs = subprocess.run(["git", "--git-dir", str(world.repo("foo")), "show-ref"],
                              capture_output=True, text=True)  # fmt: skip
        assert "refs/heads/hung" not in refs.stdout
    finally:
        if push.poll() is None:
            push.kill()
            push.wait()
        fragment.unlink(missing_ok=True)
        srv.cli("setup", "--hooks-only")
