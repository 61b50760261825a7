"""The key index through a real sshd configured as `setup --sshd-config` says: keys only in
the index log in as their users, unknown keys are refused, a key an admin push removes is
refused at the next login; and setup's refusals of a launcher sshd would not run."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.adminkeys import key_blob
from tests.support.adminrepo import clone_admin, commit_all, push_as
from tests.support.server import Server
from tests.support.sshd import SshClient, Sshd, SshKey, make_key

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="sshd runs an AuthorizedKeysCommand only from root-owned folders"
)

CONF = """\
repo gitolite-admin
    RW+     =   admin

repo foo
    RW+     =   alice bob
"""


@pytest.fixture
def root_folder() -> Iterator[Path]:
    """A fresh folder sshd accepts for the launcher: below /run (root, 0755), not /tmp (1777)."""
    folder = Path(tempfile.mkdtemp(prefix="gitolite-triggers-test-", dir="/run"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def pub_path(key: SshKey) -> Path:
    return Path(str(key.path) + ".pub")


def sshd_config_lines(server: Server, launcher: Path) -> str:
    r = server.cli(
        "setup", "--sshd-config", "--account", "root", "--home", str(server.home),
        "--launcher", str(launcher),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith(("#", "wrote"))]
    assert lines[0] == "Match User root" and "AuthorizedKeysCommandUser root" in lines[-1]
    return "\n".join(lines) + "\n"


def test_login_through_the_index_only(server: Server, tmp_path: Path, root_folder: Path) -> None:
    keys = {n: make_key(tmp_path / "keys", n) for n in ("admin", "alice", "bob", "carol")}
    server.write_rc("KEYS_IN_AUTHORIZED_KEYS: false\n", name="50-index.yaml")
    r = server.cli("setup", "--pubkey", str(pub_path(keys["admin"])))
    assert r.returncode == 0, r.stdout + r.stderr
    work = clone_admin(server, tmp_path / "gitolite-admin")
    (work / "conf" / "gitolite.conf").write_text(CONF)
    for name in ("alice", "bob"):
        (work / "keydir" / f"{name}.pub").write_text(keys[name].pub + "\n")
    commit_all(work, server.env, "alice and bob")
    assert push_as(server, work, "admin").returncode == 0

    ak = (server.home / ".ssh" / "authorized_keys").read_text()
    assert key_blob(pub_path(keys["alice"])) not in ak  # sshd can only find it in the index

    launcher = root_folder / "authorized-keys-root"
    extra = sshd_config_lines(server, launcher)
    st = launcher.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o755)

    with Sshd(tmp_path / "sshd", home=server.home, extra_config=extra) as sshd:
        for name in ("alice", "bob"):
            r = SshClient(sshd, keys[name]).ssh("info")
            assert r.returncode == 0 and f"hello {name}" in r.stdout, r.stderr + sshd.log_text()
        r = SshClient(sshd, keys["carol"]).ssh("info")
        assert r.returncode == 255 and "Permission denied" in r.stderr

        (work / "keydir" / "bob.pub").unlink()
        commit_all(work, server.env, "bob leaves")
        assert push_as(server, work, "admin").returncode == 0
        r = SshClient(sshd, keys["bob"]).ssh("info")
        assert r.returncode == 255 and "Permission denied" in r.stderr
        r = SshClient(sshd, keys["alice"]).ssh("info")
        assert r.returncode == 0 and "hello alice" in r.stdout, r.stderr
    assert "Unsafe AuthorizedKeysCommand" not in sshd.log_text()


@pytest.mark.parametrize(
    ("launcher", "says"),
    [
        ("{tmp}/authorized-keys-root", "writable by no one else"),  # /tmp is 1777
        ("relative/path", "absolute path"),
        ("/run/with space/x", "letters, digits"),
    ],
)
def test_setup_refuses_a_launcher_sshd_would_not_run(
    server: Server, tmp_path: Path, launcher: str, says: str
) -> None:
    r = server.cli(
        "setup", "--sshd-config", "--account", "root", "--launcher", launcher.format(tmp=tmp_path)
    )
    assert r.returncode == 1 and says in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "authorized-keys-root").exists()


def test_setup_needs_an_account(server: Server) -> None:
    r = server.cli("setup", "--sshd-config")
    assert r.returncode == 1 and "--account" in r.stderr
    r = server.cli("setup", "--sshd-config", "--account", "no-such-account-here")
    assert r.returncode == 1 and "no account" in r.stderr
