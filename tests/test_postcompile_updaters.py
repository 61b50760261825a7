"""update-git-configs, update-gitweb-access-list, update-git-daemon-access-list on real repos."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.adminkeys import make_key, run_post_compile
from tests.support.adminrepo import bare_git
from tests.support.server import Server

CONF = """\
repo gitolite-admin
    RW+     =   admin

repo pub
    R       =   gitweb daemon
    config hooks.mailinglist = dev@example.com

repo described
    RW+     =   alice
    desc    =   "A described repo"
    owner   =   Alice Example

repo private
    RW+     =   alice
    config hooks.mailinglist = ""
"""


@pytest.fixture
def compiled(server: Server, tmp_path: Path) -> Server:
    """A set-up server, then CONF compiled (pub, described, private created)."""
    r = server.cli("setup", "--pubkey", str(make_key(tmp_path / "keys", "admin")))
    assert r.returncode == 0, r.stdout + r.stderr
    server.write_rc('GIT_CONFIG_KEYS: "gitweb\\\\..* hooks\\\\..*"\n', name="50-local.yaml")
    (server.admin_base / "conf" / "gitolite.conf").write_text(CONF)
    r = server.cli("compile")
    assert r.returncode == 0, r.stdout + r.stderr
    # a stale value the conf unsets, set before the updaters run
    bare_git(server, "private", "config", "hooks.mailinglist", "old@example.com")
    return server


def config(server: Server, repo: str, key: str) -> str | None:
    r = bare_git(server, repo, "config", "--get", key, check=False)
    return r.stdout.rstrip("\n") if r.returncode == 0 else None


def test_post_compile_updaters(compiled: Server) -> None:
    server = compiled
    r = server.cli("trigger", "POST_COMPILE")
    assert r.returncode == 0, r.stderr

    # update-git-configs: set, desc/owner sugar, and "" unsets
    assert config(server, "pub", "hooks.mailinglist") == "dev@example.com"
    assert config(server, "described", "gitweb.description") == "A described repo"
    assert config(server, "described", "gitweb.owner") == "Alice Example"
    assert config(server, "private", "hooks.mailinglist") is None
    # update-gitweb-access-list: readable by gitweb, or with gitweb.* config; sorted
    assert (server.home / "projects.list").read_text() == "described.git\npub.git\n"
    # update-git-daemon-access-list: only where daemon can read; testing (from setup,
    # @all then) is no longer in the conf, so its export flag is removed
    flags = {p.parent.name for p in server.repo_base.glob("*.git/git-daemon-export-ok")}
    assert flags == {"pub.git"}


def test_unchanged_configs_are_not_rewritten(compiled: Server) -> None:
    server = compiled
    assert run_post_compile(server.env, "update-git-configs", "POST_COMPILE").returncode == 0
    inodes = {p: p.stat().st_ino for p in server.repo_base.glob("*.git/config")}
    r = run_post_compile(server.env, "update-git-configs", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    # git config writes through a lock file + rename: the same inode means no git ran
    assert {p: p.stat().st_ino for p in inodes} == inodes


def test_changed_value_is_updated(compiled: Server) -> None:
    server = compiled
    assert run_post_compile(server.env, "update-git-configs", "POST_COMPILE").returncode == 0
    bare_git(server, "pub", "config", "hooks.mailinglist", "someone-else@example.com")
    bare_git(server, "pub", "config", "hooks.other", "kept")
    assert run_post_compile(server.env, "update-git-configs", "POST_COMPILE").returncode == 0
    assert config(server, "pub", "hooks.mailinglist") == "dev@example.com"
    assert config(server, "pub", "hooks.other") == "kept"  # not in the conf: left alone


def test_post_create_touches_only_that_repo(compiled: Server) -> None:
    server = compiled
    plist = server.home / "projects.list"
    plist.write_text("elsewhere.git\n")
    (server.repo_base / "described.git" / "git-daemon-export-ok").write_text("")

    r = run_post_compile(server.env, "update-gitweb-access-list", "POST_CREATE", "pub", "alice")
    assert r.returncode == 0, r.stderr
    assert plist.read_text() == "elsewhere.git\npub.git\n"
    r = run_post_compile(server.env, "update-git-daemon-access-list", "POST_CREATE", "pub", "alice")
    assert r.returncode == 0, r.stderr
    assert (server.repo_base / "pub.git" / "git-daemon-export-ok").exists()
    assert (server.repo_base / "described.git" / "git-daemon-export-ok").exists()  # not touched
    r = run_post_compile(server.env, "update-git-configs", "POST_CREATE", "pub", "alice")
    assert r.returncode == 0, r.stderr
    assert config(server, "pub", "hooks.mailinglist") == "dev@example.com"
    assert config(server, "described", "gitweb.description") is None  # not touched


def test_gitweb_projects_list_setting(compiled: Server) -> None:
    server = compiled
    target = server.home / "web" / "list.txt"
    server.write_rc(f"GITWEB_PROJECTS_LIST: {target}\n", name="60-web.yaml")
    r = run_post_compile(server.env, "update-gitweb-access-list", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    assert target.read_text() == "described.git\npub.git\n"


def test_unwritable_list_is_a_message_not_a_traceback(compiled: Server) -> None:
    server = compiled
    blocker = server.home / "a-file"
    blocker.write_text("")
    server.write_rc(f"GITWEB_PROJECTS_LIST: {blocker}/projects.list\n", name="60-web.yaml")
    r = run_post_compile(server.env, "update-gitweb-access-list", "POST_COMPILE")
    assert r.returncode == 1
    assert r.stderr.startswith("FATAL: update-gitweb-access-list:") and str(blocker) in r.stderr
    assert "Traceback" not in r.stderr
    dies = [ln for ln in server.log_text().splitlines() if "\tdie\t" in ln]
    assert len(dies) == 1 and "update-gitweb-access-list:" in dies[0]
