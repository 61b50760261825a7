"""Fixtures of the fault-injection suite: a small tmpfs as the server's HOME, the test-only
kill switch (gitolite_triggers/faults.py), and a snapshot of everything an admin push changes.

Profiles: the default (CI) runs a short ladder of free-space levels, kill points and race
rounds; ``GL_FAULTS_PROFILE=long`` runs the long ones (docs/reliability.md lists both).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitolite_triggers import faults
from tests.support.adminkeys import make_key
from tests.support.adminrepo import bare_git, clone_admin, commit_all, git, push_as
from tests.support.server import Server, make_server

LONG = os.environ.get("GL_FAULTS_PROFILE", "") == "long"


@pytest.fixture(scope="session")
def fault_flag() -> None:
    """The root-owned flag file that arms GL_FAULT (tests run as root, as in CI).

    Left in place afterwards: it arms nothing by itself (GL_FAULT must also be set in a
    process's environment), and removing it could disarm a concurrent run."""
    flag = Path(faults.FLAG)
    if not flag.exists():
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.write_text("armed for tests/faults (gitolite_triggers/faults.py)\n")
        flag.chmod(0o644)
    st = flag.lstat()
    assert st.st_uid == 0 and not st.st_mode & 0o022, "the flag must be root's and not writable"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, always unmounted in teardown."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mnt)], check=True
    )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@dataclass
class World:
    """A set-up server, the admin's clone, and keys to add."""

    server: Server
    admin: Path
    keys: Path
    n: int = 0

    def new_commit(self, tag: str) -> str:
        """A commit that touches every kind of state: a repo (rules, gitweb, daemon, a git
        config), a key, and a change of an existing repo's config."""
        conf = self.admin / "conf" / "gitolite.conf"
        key = make_key(self.keys, f"u{tag}")
        (self.admin / "keydir" / f"u{tag}.pub").write_text(key.read_text())
        text = conf.read_text()
        text += (
            f"\nrepo r{tag}\n    RW+ = u{tag}\n    R = gitweb daemon\n"
            f"    config hooks.tag = t{tag}\n"
            f"\nrepo testing\n    config hooks.last = {tag}\n"
        )
        conf.write_text(text)
        commit_all(self.admin, self.server.env, f"add r{tag}")
        return git(self.admin, "rev-parse", "HEAD", env=self.server.env).stdout.strip()

    def push(self, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        if not env:
            return push_as(self.server, self.admin, "admin")
        e = {**self.server.env, "GL_USER": "admin", "GL_REPO": "gitolite-admin", **env}
        return git(self.admin, "push", "origin", "HEAD:master", env=e, check=False)

    def tip(self) -> str:
        return bare_git(self.server, "gitolite-admin", "rev-parse", "HEAD").stdout.strip()


def make_world(home: Path, tmp: Path) -> World:
    server = make_server(home)
    server.write_rc("GIT_CONFIG_KEYS: 'hooks\\..*'\n")
    keys = tmp / "keys"
    keys.mkdir(exist_ok=True)
    r = server.cli("setup", "--pubkey", str(make_key(keys, "admin")))
    assert r.returncode == 0, r.stdout + r.stderr
    admin = clone_admin(server, tmp / "gitolite-admin")
    git(admin, "checkout", "-q", "-B", "master", env=server.env)
    bare_git(server, "gitolite-admin", "symbolic-ref", "HEAD", "refs/heads/master")
    return World(server, admin, keys)


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return "-"


def live_state(server: Server) -> dict[str, object]:
    """Everything an admin push may change, as comparable values."""
    home = server.home
    repos = sorted(
        str(p.relative_to(server.repo_base))
        for p in server.repo_base.rglob("*.git")
        if p.is_dir()
        and not any(part.startswith(".") for part in p.relative_to(server.repo_base).parts)
    )
    conf_files = {
        str(p.relative_to(server.admin_base)): _digest(p)
        for sub in ("conf", "keydir")
        for p in sorted((server.admin_base / sub).rglob("*"))
        if p.is_file() and not p.name.startswith(".") and p.name != "compiled.rules"
    }
    return {
        "store": _digest(server.admin_base / "conf" / "compiled.rules"),
        "authorized_keys": _digest(home / ".ssh" / "authorized_keys"),
        "projects": _digest(home / "projects.list"),
        "repos": repos,
        "configs": {r: _digest(server.repo_base / r / "config") for r in repos},
        "export_ok": sorted(
            r for r in repos if (server.repo_base / r / "git-daemon-export-ok").exists()
        ),
        "last_good": _digest(server.repo_base / "gitolite-admin.git" / "gl-last-good"),
        "checkout": conf_files,
        "key_index": sorted(
            p.name
            for p in (home / ".ssh" / "gitolite-triggers-keys").glob("*")
            if not p.name.startswith(".")
        ),
    }


def drift(server: Server) -> dict[str, object] | None:
    path = server.repo_base / "gitolite-admin.git" / "gl-drift.json"
    try:
        doc: dict[str, object] = json.loads(path.read_text())
        return doc
    except FileNotFoundError:
        return None


def assert_in_force(world: World, tag: str, commit: str) -> None:
    """Everything commit ``tag`` implies is live (the accepted half of the promise)."""
    s = world.server
    assert world.tip() == commit
    assert (s.repo_base / "gitolite-admin.git" / "gl-last-good").read_text().strip() == commit
    assert drift(s) is None, drift(s)
    repo = s.repo_base / f"r{tag}.git"
    assert (repo / "hooks" / "update").is_symlink(), "new repo missing or without hooks"
    assert s.cli("access", "-q", f"r{tag}", f"u{tag}", "W", "any").returncode == 0
    assert f'shell u{tag}"' in (s.home / ".ssh" / "authorized_keys").read_text()
    assert f"r{tag}.git" in (s.home / "projects.list").read_text().split()
    assert (repo / "git-daemon-export-ok").exists()
    assert f"tag = t{tag}" in (repo / "config").read_text()
    assert f"last = {tag}" in (s.repo_base / "testing.git" / "config").read_text()
    assert f"repo r{tag}" in (s.admin_base / "conf" / "gitolite.conf").read_text()
    assert (s.admin_base / "keydir" / f"u{tag}.pub").exists()
    # the checkout is the commit's (only changed files are staged: adminstage._Tree) and
    # so is its index, which the next push's stat check trusts
    admin_git = s.repo_base / "gitolite-admin.git"
    for path in ("conf/gitolite.conf", f"keydir/u{tag}.pub"):
        blob = git(s.home, f"--git-dir={admin_git}", "show", f"{commit}:{path}", env=s.env)
        assert (s.admin_base / path).read_text() == blob.stdout, path
    env = {**s.env, "GIT_INDEX_FILE": str(admin_git / "index")}
    same = git(
        s.home,
        f"--git-dir={admin_git}",
        "diff-index",
        "--cached",
        "--quiet",
        commit,
        env=env,
        check=False,
    )
    assert same.returncode == 0, "the live index is not the commit's"


def log_lines_whole(server: Server) -> int:
    """Every line of every log file is one whole record; return how many were read."""
    n = 0
    for log in (server.admin_base / "logs").glob("*.log"):
        data = log.read_bytes()
        assert not data or data.endswith(b"\n"), f"{log}: last line cut"
        for line in data.splitlines():
            fields = line.split(b"\t")
            assert len(fields) >= 3 and len(fields[0]) == 19 and fields[0][4:5] == b"-", line[:200]
            n += 1
    return n


def leftovers(server: Server) -> list[str]:
    """Temp files and stages of admin pushes left anywhere under HOME."""
    found = [str(p) for p in server.home.rglob("*.gl-stage.*")]
    found += [str(p) for p in server.home.rglob(".gl-stage-*")]
    stages = server.admin_base / ".gl-stage"
    if stages.is_dir():
        found += [str(p) for p in stages.iterdir()]
    return found
