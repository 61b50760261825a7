"""The key index and ``gitolite-triggers authorized-keys``: real keys, real ssh-authkeys runs,
the account's real lean launcher; hostile inputs and broken files answer nothing, exit 0."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from gitolite_triggers import keyindex, launcher
from gitolite_triggers.postcompile.ssh_authkeys import START
from tests.support.adminkeys import key_blob, make_key, run_post_compile
from tests.support.server import Server

ME = pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: make_key(folder, name) for name in ("alice", "bob", "carol")}


def post_compile(server: Server) -> subprocess.CompletedProcess[str]:
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    return r


def with_keys(server: Server, keys: dict[str, Path], *names: str) -> Path:
    kd = server.admin_base / "keydir"
    kd.mkdir(parents=True, exist_ok=True)
    for name in names:
        (kd / f"{name}.pub").write_text(keys[name].read_text())
    post_compile(server)
    return server.home / ".ssh" / "authorized_keys"


def ask(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """``authorized-keys ARGS`` through the account's lean launcher, as sshd would run it."""
    script = launcher.write_shell_launcher(str(server.admin_base))
    return subprocess.run(
        [script, "authorized-keys", *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def key_args(pub: Path) -> list[str]:
    ktype, blob = pub.read_text().split()[:2]
    return [ME, ktype, blob]


def ak_line(ak: Path, pub: Path) -> str:
    return next(ln for ln in ak.read_text().splitlines() if key_blob(pub) in ln)


def test_known_key_gets_exactly_its_line(server: Server, keys: dict[str, Path]) -> None:
    ak = with_keys(server, keys, "alice", "bob")
    for name in ("alice", "bob"):
        r = ask(server, *key_args(keys[name]))
        assert (r.returncode, r.stderr) == (0, "")
        assert r.stdout == ak_line(ak, keys[name]) + "\n"
        assert r.stdout.startswith('command="') and f' shell {name}",' in r.stdout


def test_unknown_key_and_other_account_answer_nothing(
    server: Server, keys: dict[str, Path]
) -> None:
    with_keys(server, keys, "alice")
    for args in (key_args(keys["carol"]), ["someone-else", *key_args(keys["alice"])[1:]]):
        r = ask(server, *args)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert "nothing answered" not in server.log_text()  # normal answers are not logged


@pytest.mark.parametrize(
    "args",
    [
        ["ssh-ed25519", 'AAAA\ncommand="sh" ssh-ed25519 AAAA'],
        ["ssh-ed25519", "A" * (keyindex.MAX_KEY + 1)],
        ["ssh-ed25519\n", "AAAA"],
        ["ssh ed25519", "AAAA"],
        ["ssh-ed25519"],
    ],
)
def test_hostile_arguments_answer_nothing(
    server: Server, keys: dict[str, Path], args: list[str]
) -> None:
    with_keys(server, keys, "alice")
    r = ask(server, ME, *args)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert "nothing answered" in server.log_text()


def index_file(server: Server) -> Path:
    (found,) = (server.home / ".ssh" / keyindex.INDEX_DIR).glob("*.idx")
    return found


@pytest.mark.parametrize(
    "damage",
    ["missing", "truncated", "garbage", "symlink", "no-token", "bad-offsets", "foreign-line"],
)
def test_broken_index_answers_nothing_and_logs(
    server: Server, keys: dict[str, Path], damage: str
) -> None:
    ak = with_keys(server, keys, "alice")
    idx = index_file(server)
    data = idx.read_bytes()
    if damage == "missing":
        idx.unlink()
    elif damage == "truncated":
        idx.write_bytes(data[:-10])
    elif damage == "garbage":
        idx.write_bytes(b"\0" * len(data))
    elif damage == "symlink":
        real = server.home / "elsewhere.idx"
        real.write_bytes(data)
        idx.unlink()
        idx.symlink_to(real)
    elif damage == "no-token":
        ak.write_text(ak.read_text().replace(keyindex.TOKEN_LINE, "# edited "))
    elif damage == "bad-offsets":
        head = keyindex.HEADER
        idx.write_bytes(data[:head] + (len(data) + 5).to_bytes(8, "little") * 2 + data[head + 16 :])
    elif damage == "foreign-line":
        blob = key_blob(keys["alice"])
        start = data.index(blob.encode() + b"\t") + len(blob) + 1
        end = data.index(b"\n", start)
        evil = b"ssh-ed25519 " + blob.encode()  # a line without our forced command
        idx.write_bytes(data[:start] + evil.ljust(end - start, b" ") + data[end:])
    r = ask(server, *key_args(keys["alice"]))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert "nothing answered" in server.log_text()


def test_broken_rc_answers_nothing(server: Server, keys: dict[str, Path]) -> None:
    with_keys(server, keys, "alice")
    broken = server.write_rc("UMASK: [not, a, umask]\n", name="90-broken.yaml")
    # On the last good rc (docs/reliability.md) logins keep working, silently.
    r = ask(server, *key_args(keys["alice"]))
    assert r.returncode == 0 and ' shell alice",' in r.stdout and r.stderr == "", r.stderr
    # With no last good rc to fall back on: nothing answered (fail closed).
    (server.home / ".gitolite.rc.yaml.last-good").unlink()
    broken.write_text("UMASK: [still, not, a, umask]\n")
    r = ask(server, *key_args(keys["alice"]))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert "nothing answered" in server.log_text()


def test_index_only_mode_and_modes(server: Server, keys: dict[str, Path]) -> None:
    """KEYS_IN_AUTHORIZED_KEYS false: the file keeps the admin's lines and the token only;
    the index answers; folder 0700, file 0600; a removed key is gone at the next compile,
    and old indexes beyond the previous one are removed."""
    ssh = server.home / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "authorized_keys").write_text("# mine\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIadmin me\n")
    server.write_rc("KEYS_IN_AUTHORIZED_KEYS: false\n", name="50-index.yaml")
    ak = with_keys(server, keys, "alice", "bob")
    text = ak.read_text()
    assert key_blob(keys["alice"]) not in text and "# mine" in text and START in text
    r = ask(server, *key_args(keys["alice"]))
    assert ' shell alice",' in r.stdout and key_blob(keys["alice"]) in r.stdout
    folder = ssh / keyindex.INDEX_DIR
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(index_file(server).stat().st_mode) == 0o600
    (server.admin_base / "keydir" / "bob.pub").unlink()
    post_compile(server)
    assert ask(server, *key_args(keys["bob"])).stdout == ""
    assert ask(server, *key_args(keys["alice"])).stdout
    (server.admin_base / "keydir" / "carol.pub").write_text(keys["carol"].read_text())
    post_compile(server)
    assert len(list(folder.glob("*.idx"))) == 2  # the current and the previous one


def test_crash_between_index_and_authorized_keys(server: Server, keys: dict[str, Path]) -> None:
    """A new index written but authorized_keys not yet renamed: the old pair still answers,
    and the new index is not used (the token in authorized_keys is the commit point)."""
    server.write_rc("KEYS_IN_AUTHORIZED_KEYS: false\n", name="50-index.yaml")
    ak = with_keys(server, keys, "alice", "bob")
    before = ak.read_bytes()
    (server.admin_base / "keydir" / "bob.pub").unlink()
    post_compile(server)
    ak.write_bytes(before)  # as if the rename of authorized_keys had not happened
    assert ask(server, *key_args(keys["bob"])).stdout  # the old pair, consistent
    post_compile(server)
    assert ask(server, *key_args(keys["bob"])).stdout == ""


def test_symlinked_ssh_folder_refused_in_index_only_mode(
    server: Server, keys: dict[str, Path]
) -> None:
    real = server.home / "real-ssh"
    real.mkdir(mode=0o700)
    (server.home / ".ssh").symlink_to(real)
    server.write_rc("KEYS_IN_AUTHORIZED_KEYS: false\n", name="50-index.yaml")
    kd = server.admin_base / "keydir"
    kd.mkdir(parents=True)
    (kd / "alice.pub").write_text(keys["alice"].read_text())
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode != 0 and "symlink" in r.stderr
    assert not (real / "authorized_keys").exists()


def test_build_and_lookup_many(tmp_path: Path) -> None:
    """The format itself: duplicates keep the first line, every key is found, others not."""
    entries = [
        ("ssh-ed25519", f"AAAA{i:06d}", f'command="x shell u{i}" ssh-ed25519 AAAA{i:06d}')
        for i in range(3000)
    ]
    entries.append(("ssh-ed25519", "AAAA000007", 'command="x shell dup" ssh-ed25519 AAAA000007'))
    path = tmp_path / "k.idx"
    path.write_bytes(keyindex.build(entries))
    fd = os.open(path, os.O_RDONLY)
    try:
        for i in (0, 7, 2999):
            assert keyindex.lookup_fd(fd, "ssh-ed25519", f"AAAA{i:06d}") == entries[i][2]
        assert keyindex.lookup_fd(fd, "ssh-ed25519", "AAAA999999") is None
        assert keyindex.lookup_fd(fd, "ssh-rsa", "AAAA000007") is None
    finally:
        os.close(fd)


def test_markers_agree() -> None:
    assert keyindex.START_LINE == START
