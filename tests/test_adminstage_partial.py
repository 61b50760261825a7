"""An admin push writes only what changed (adminstage._Tree, ssh_authkeys' stamp), and still
puts exactly the pushed commit in force: real pushes into the real hooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.adminkeys import key_blob, make_key
from tests.support.adminrepo import clone_admin, commit_all, push_as
from tests.support.server import Server


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: make_key(folder, name) for name in ("admin", "alice", "bob")}


@pytest.fixture
def admin(server: Server, keys: dict[str, Path], tmp_path: Path) -> Path:
    r = server.cli("setup", "--pubkey", str(keys["admin"]))
    assert r.returncode == 0, r.stdout + r.stderr
    work = clone_admin(server, tmp_path / "gitolite-admin")
    (work / "keydir" / "sub").mkdir()
    (work / "keydir" / "sub" / "alice.pub").write_text(keys["alice"].read_text())
    (work / "README").write_text("read me\n")
    commit_all(work, server.env, "alice")
    assert push_as(server, work, "admin").returncode == 0
    return work


def inodes(base: Path) -> dict[str, int]:
    """Inode of every checked-out file under base's conf/ and keydir/, and README."""
    found = {
        str(p.relative_to(base)): p.stat().st_ino
        for top in ("conf", "keydir")
        for p in (base / top).rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name != "compiled.rules"
    }
    found["README"] = (base / "README").stat().st_ino
    return found


def ak_path(server: Server) -> Path:
    return server.home / ".ssh" / "authorized_keys"


def add_rule(work: Path, line: str) -> None:
    conf = work / "conf" / "gitolite.conf"
    conf.write_text(conf.read_text() + f"\nrepo foo\n    {line}\n")


def test_conf_push_renames_only_the_conf(server: Server, admin: Path) -> None:
    before = inodes(server.admin_base)
    ak_ino = ak_path(server).stat().st_ino
    add_rule(admin, "RW+ = alice")
    commit_all(admin, server.env, "foo")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0, r.stderr
    after = inodes(server.admin_base)
    moved = sorted(p for p in before if after.get(p) != before[p])
    assert moved == ["conf/gitolite.conf"]
    assert ak_path(server).stat().st_ino == ak_ino  # keydir unchanged: not re-rendered
    assert server.cli("access", "-q", "foo", "alice", "W", "any").returncode == 0
    assert not list((server.admin_base / ".gl-stage").iterdir())  # no stage left


def test_key_push_changes_keys_and_removes_deleted(
    server: Server, keys: dict[str, Path], admin: Path
) -> None:
    (admin / "keydir" / "bob.pub").write_text(keys["bob"].read_text())
    (admin / "README").unlink()
    commit_all(admin, server.env, "bob, no README")
    assert push_as(server, admin, "admin").returncode == 0
    assert key_blob(keys["bob"]) in ak_path(server).read_text()
    assert (server.admin_base / "keydir" / "bob.pub").read_text() == keys["bob"].read_text()
    assert not (server.admin_base / "README").exists()
    (admin / "keydir" / "sub" / "alice.pub").unlink()
    commit_all(admin, server.env, "no alice")
    assert push_as(server, admin, "admin").returncode == 0
    assert key_blob(keys["alice"]) not in ak_path(server).read_text()
    assert not (server.admin_base / "keydir" / "sub" / "alice.pub").exists()


def test_hand_edits_are_undone(server: Server, keys: dict[str, Path], admin: Path) -> None:
    """A live file edited in place, one deleted, and authorized_keys edited by hand: the
    next push (of the conf only) puts the commit's content back, as a full checkout did."""
    live_key = server.admin_base / "keydir" / "sub" / "alice.pub"
    with open(live_key, "a") as f:  # in place: the same inode
        f.write("# edited by hand\n")
    (server.admin_base / "README").unlink()
    ak_path(server).write_text("# nothing of ours\n")
    add_rule(admin, "R = alice")
    commit_all(admin, server.env, "foo")
    assert push_as(server, admin, "admin").returncode == 0
    assert live_key.read_text() == keys["alice"].read_text()
    assert (server.admin_base / "README").read_text() == "read me\n"
    text = ak_path(server).read_text()
    assert "# nothing of ours" in text and key_blob(keys["alice"]) in text


def test_missing_live_index_writes_everything(
    server: Server, keys: dict[str, Path], admin: Path
) -> None:
    (admin / "README").unlink()  # (without an index every top-level name is the server's)
    commit_all(admin, server.env, "no README")
    assert push_as(server, admin, "admin").returncode == 0
    index = server.repo_base / "gitolite-admin.git" / "index"
    index.unlink()
    live_key = server.admin_base / "keydir" / "sub" / "alice.pub"
    live_key.write_text("edited\n")
    (admin / "keydir" / "bob.pub").write_text(keys["bob"].read_text())
    commit_all(admin, server.env, "bob")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0, r.stderr
    assert live_key.read_text() == keys["alice"].read_text()
    assert key_blob(keys["bob"]) in ak_path(server).read_text()
    assert index.is_file()  # a whole index again: the next push is partial


def test_rc_change_rerenders_keys(server: Server, admin: Path) -> None:
    server.write_rc("AUTH_OPTIONS: no-pty\n", name="60-opts.yaml")
    add_rule(admin, "R = alice")
    commit_all(admin, server.env, "foo")
    assert push_as(server, admin, "admin").returncode == 0
    assert ",no-pty ssh-ed25519" in ak_path(server).read_text()


def test_refused_push_touches_nothing(server: Server, keys: dict[str, Path], admin: Path) -> None:
    before = inodes(server.admin_base)
    ak_before = ak_path(server).read_bytes()
    (admin / "keydir" / "bob.pub").write_text(keys["bob"].read_text())
    (admin / "conf" / "gitolite.conf").write_text("repo foo\n    RW+ alice\n")  # no '='
    commit_all(admin, server.env, "broken")
    r = push_as(server, admin, "admin")
    assert r.returncode != 0 and "nothing changed" in r.stderr
    assert inodes(server.admin_base) == before
    assert ak_path(server).read_bytes() == ak_before
    assert not list((server.admin_base / ".gl-stage").iterdir())
    leftovers = [
        n for n in os.listdir(server.repo_base / "gitolite-admin.git") if ".gl-stage." in n
    ]
    assert leftovers == []


def test_bench_admin_push_smoke(tmp_path: Path) -> None:
    """bench/bench_admin_push.py at a tiny size (the figures: bench/README.md)."""
    out = tmp_path / "out.md"
    script = Path(__file__).resolve().parents[1] / "bench" / "bench_admin_push.py"
    args = [
        "--keys",
        "20",
        "--repos",
        "3",
        "--runs",
        "1",
        "--out",
        str(out),
        "--tmp",
        str(tmp_path),
    ]
    r = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [
        ln for ln in out.read_text().splitlines() if ln.startswith("| 20 keys") or "3 repos" in ln
    ]
    assert len(rows) == 2
