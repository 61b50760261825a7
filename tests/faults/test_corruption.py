"""Issue 15, corruption: a truncated rc cache, a damaged compiled rules file, a repo with a
missing or broken hook link, a lost or broken ``gl-perms``. Each fails closed with a clear
message (never a traceback to a client), ``doctor`` names it, and ``doctor --fix``
repairs it. Real account, real git, the real forced command (run as sshd would run it).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server, make_server

CONF = """\
repo gitolite-admin
    RW+     =   admin

repo foo
    RW+     =   alice

repo wild/..*
    C       =   alice
    RW+     =   CREATOR
    R       =   READERS
"""


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("corrupt")
    srv = make_server(base / "home")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "admin")],
                   check=True)  # fmt: skip
    r = srv.cli("setup", "--pubkey", str(base / "admin.pub"))
    assert r.returncode == 0, r.stderr
    (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
    assert srv.cli("compile").returncode == 0
    yield srv


@pytest.fixture
def server(account: Server) -> Iterator[Server]:
    """The account, healthy before and after each test (doctor says so)."""
    healthy = account.cli("doctor")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    yield account
    after = account.cli("doctor", "--fix")
    assert account.cli("doctor").returncode == 0, after.stdout + after.stderr


def ssh(server: Server, user: str, command: str) -> subprocess.CompletedProcess[str]:
    """The forced command for ``user`` with ``command`` as SSH_ORIGINAL_COMMAND."""
    return server.cli(
        "shell",
        user,
        input="0000",
        extra_env={"SSH_ORIGINAL_COMMAND": command, "SSH_CONNECTION": "127.0.0.1 1 127.0.0.1 22"},
    )


def fetch(server: Server, user: str, repo: str) -> subprocess.CompletedProcess[str]:
    return ssh(server, user, f"git-upload-pack '{repo}'")


def no_internals(r: subprocess.CompletedProcess[str], server: Server) -> None:
    assert "Traceback" not in r.stderr and str(server.home) not in r.stderr, r.stderr


def doctor_names(server: Server, *words: str) -> str:
    r = server.cli("doctor")
    assert r.returncode == 1, r.stdout + r.stderr
    for word in words:
        assert word in r.stdout, r.stdout
    assert "    fix: " in r.stdout
    return r.stdout


def fixed(server: Server) -> None:
    r = server.cli("doctor", "--fix")
    assert r.returncode == 0 and "doctor: all fixed" in r.stdout, r.stdout + r.stderr
    assert server.cli("doctor").returncode == 0


@pytest.mark.parametrize("cut", [0, 1, 40, "half", "minus-one"])
def test_a_truncated_rc_cache(server: Server, cut: int | str) -> None:
    cache = server.home / ".gitolite.rc.yaml.cache"
    data = cache.read_bytes()
    n = len(data) // 2 if cut == "half" else len(data) - 1 if cut == "minus-one" else int(cut)
    cache.write_bytes(data[:n])
    doctor_names(server, "rc.yaml.cache was damaged")
    cache.write_bytes(data[:n])
    fixed(server)
    assert cache.read_bytes() == data
    cache.write_bytes(data[:n])
    r = fetch(server, "alice", "foo")  # the next session rebuilds it and is served
    assert r.returncode == 0 and r.stdout.endswith("0000"), r.stderr
    assert cache.read_bytes() == data


def test_a_truncated_cache_and_a_bad_rc_with_no_last_good_rc_fail_closed(server: Server) -> None:
    cache = server.home / ".gitolite.rc.yaml.cache"
    last_good = server.home / ".gitolite.rc.yaml.last-good"
    kept = last_good.read_bytes()
    cache.write_bytes(cache.read_bytes()[:30])
    last_good.unlink()
    bad = server.write_rc("PRE_GIT: [x\n", name="70-bad.yaml")
    try:
        r = fetch(server, "alice", "foo")
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.startswith("FATAL: server configuration error; ask an admin (ref ")
        no_internals(r, server)
        admin = server.cli("doctor")
        assert admin.returncode == 1 and "invalid rc, refusing to run" in admin.stderr
    finally:
        bad.unlink()
        last_good.write_bytes(kept)
        last_good.chmod(0o600)


def test_a_damaged_compiled_rules_file(server: Server) -> None:
    store = server.admin_base / "conf" / "compiled.rules"
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 3])
    r = fetch(server, "alice", "foo")
    assert r.returncode != 0 and r.stdout == ""  # fail closed
    assert "FATAL: " in r.stderr and "ask an admin (ref " in r.stderr, r.stderr
    no_internals(r, server)
    doctor_names(server, "compiled rules", "damaged", "gitolite-triggers compile")
    fixed(server)
    assert fetch(server, "alice", "foo").returncode == 0


@pytest.mark.parametrize("damage", ["missing", "dangling", "elsewhere"])
def test_a_repo_with_a_missing_or_broken_hook_link(
    server: Server, tmp_path: Path, damage: str
) -> None:
    update = server.repo_base / "foo.git" / "hooks" / "update"
    update.unlink()
    if damage == "dangling":
        update.symlink_to(tmp_path / "nothing-here")
    elif damage == "elsewhere":
        other = tmp_path / "update"
        other.write_text("#!/bin/sh\nexit 0\n")
        other.chmod(0o755)
        update.symlink_to(other)
    # Fail closed: a repo whose update hook is not ours is refused (rules check 2 needs it).
    r = fetch(server, "alice", "foo")
    assert r.returncode != 0 and r.stdout == "", r.stdout
    no_internals(r, server)
    doctor_names(server, "foo (update:", "setup --hooks-only")
    fixed(server)
    assert fetch(server, "alice", "foo").returncode == 0


def _wild_repo_with_a_reader(server: Server, name: str) -> Path:
    assert fetch(server, "alice", name).returncode == 0  # alice creates it (C)
    r = ssh(server, "alice", f"perms {name} + READERS bob")
    assert r.returncode == 0, r.stderr
    assert fetch(server, "bob", name).returncode == 0
    return server.repo_base / f"{name}.git" / "gl-perms"


def test_a_lost_gl_perms_fails_closed_and_is_named(server: Server) -> None:
    perms = _wild_repo_with_a_reader(server, "wild/lost")
    perms.unlink()
    r = fetch(server, "bob", "wild/lost")  # bob's role is gone with the file: denied
    assert r.returncode != 0 and "DENIED" in r.stderr, r.stderr
    no_internals(r, server)
    doctor_names(server, "wild/lost: gl-perms is missing", "perms wild/lost + ROLE USER")
    fixed(server)
    assert perms.read_text() == ""  # explicit: nobody has a role until the creator says so
    assert fetch(server, "bob", "wild/lost").returncode != 0
    assert fetch(server, "alice", "wild/lost").returncode == 0  # the creator keeps hers


def test_a_gl_perms_that_is_not_a_file_fails_closed_and_is_named(server: Server) -> None:
    perms = _wild_repo_with_a_reader(server, "wild/dir")
    perms.unlink()
    perms.mkdir()
    r = fetch(server, "bob", "wild/dir")
    assert r.returncode != 0 and r.stdout == ""
    assert "ask an admin (ref " in r.stderr or "DENIED" in r.stderr, r.stderr
    no_internals(r, server)
    doctor_names(server, "wild/dir: gl-perms is not a plain readable file")
    fixed(server)
    assert perms.is_file() and perms.read_text() == ""
    assert list(perms.parent.glob("gl-perms.broken.*"))  # moved aside, not deleted


def test_leftover_temp_files_of_dead_writers_are_removed(server: Server) -> None:
    dead = server.repo_base / "foo.git" / ".gl-perms.999999999.tmp"
    dead.write_text("half")
    live = server.home / f".x.{os.getpid()}.tmp"  # a writer that is alive (this process)
    live.write_text("in progress")
    try:
        out = doctor_names(server, str(dead))
        assert str(live) not in out
        fixed(server)
        assert not dead.exists() and live.exists()
    finally:
        live.unlink()


def test_doctor_removes_only_plain_temp_files(server: Server, tmp_path: Path) -> None:
    """A folder or symlink that merely has a temp file's name (an admin's conf/ folder
    ``.x.999999999.tmp``, a link at something precious) is not litter: doctor --fix
    neither crashes on it nor touches it or what it points at."""
    folder = server.admin_base / "conf" / ".sub.999999999.tmp"
    folder.mkdir(parents=True)
    (folder / "keep").write_text("keep")
    victim = tmp_path / "precious"
    victim.write_text("precious")
    link = server.home / ".y.999999999.tmp"
    link.symlink_to(victim)
    dead = server.home / ".z.999999999.tmp"
    dead.write_text("half")
    out = doctor_names(server, str(dead))
    assert str(folder) not in out and str(link) not in out
    fixed(server)
    assert not dead.exists() and (folder / "keep").is_file() and link.is_symlink()
    assert victim.read_text() == "precious"
