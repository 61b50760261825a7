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


REF_CONF = """\
repo gitolite-admin
    RW+     =   admin
repo source
    RW+ = u1
repo fork
    RW+ = u1
    option reference.repo = source
repo multifork
    RW+ = u1
    option reference.repo-1 = source
    option reference.repo-2 = fork
repo odd
    RW+ = u1
    option reference.repo = nosuch
"""


def test_create_with_reference_adds_alternates(server: Server, tmp_path: Path) -> None:
    """t/reference.t: `option reference.repo*` gives git alternates after a compile; lines
    are only added (dropping one could lose objects); a bad name is a warning."""
    r = server.cli("setup", "--pubkey", str(make_key(tmp_path / "keys", "admin")))
    assert r.returncode == 0, r.stdout + r.stderr
    server.write_rc(
        "POST_COMPILE:\n  - post-compile/create-with-reference\n", name="50-reference.yaml"
    )
    (server.admin_base / "conf" / "gitolite.conf").write_text(REF_CONF)
    assert server.cli("compile").returncode == 0  # as gitolite's: no POST_COMPILE
    r = server.cli("trigger", "POST_COMPILE")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reference 'nosuch' is not a repo here; skipped" in r.stderr
    base = server.repo_base
    alt = "objects/info/alternates"
    assert not (base / "source.git" / alt).exists() and not (base / "odd.git" / alt).exists()
    assert (base / "fork.git" / alt).read_text() == f"{base}/source.git/objects\n"
    assert (base / "multifork.git" / alt).read_text() == (
        f"{base}/source.git/objects\n{base}/fork.git/objects\n"
    )
    # real git: an object stored only in source is readable through fork
    blob = tmp_path / "blob"
    blob.write_text("shared\n")
    sha = bare_git(server, "source", "hash-object", "-w", str(blob)).stdout.strip()
    assert bare_git(server, "fork", "cat-file", "-p", sha).stdout == "shared\n"
    assert bare_git(server, "odd", "cat-file", "-e", sha, check=False).returncode != 0
    # the option gone: the line stays (objects may live only there now)
    (server.admin_base / "conf" / "gitolite.conf").write_text(
        REF_CONF.replace("    option reference.repo = source\n", "")
    )
    assert server.cli("compile").returncode == 0
    assert server.cli("trigger", "POST_COMPILE").returncode == 0
    assert (base / "fork.git" / alt).read_text() == f"{base}/source.git/objects\n"
    # a symlinked alternates file is not followed: the program fails, nothing is written
    (base / "multifork.git" / alt).unlink()
    (base / "multifork.git" / alt).symlink_to(tmp_path / "elsewhere")
    r = server.cli("trigger", "POST_COMPILE")
    assert "create-with-reference" in r.stderr and not (tmp_path / "elsewhere").exists()


def test_rc_import_of_enabled_create_with_reference(server: Server) -> None:
    """t/reference.t adds the feature to the Perl rc's ENABLE list: `rc import` lists ours."""
    perl_rc = server.home / ".gitolite.rc"
    perl_rc.write_text("%RC = (ENABLE => ['help', 'create-with-reference']);\n1;\n")
    r = server.cli("rc", "import", "-q", str(perl_rc))
    assert r.returncode == 0, r.stdout + r.stderr
    for where in ("POST_COMPILE", "POST_CREATE"):
        shown = server.cli("rc", "show", where).stdout
        assert shown.count("post-compile/create-with-reference") == 1, (where, shown)
