"""``gitolite-triggers setup``: a fresh account, re-runs that repair, rc.d refresh, refusals."""

from __future__ import annotations

import json
import os
import shutil
import stat
from hashlib import sha256
from pathlib import Path

import pytest

from gitolite_triggers.commands.setup_cmd import DEFAULT_CONF
from tests.support.adminkeys import key_blob, make_key, shell_script
from tests.support.adminrepo import bare_git
from tests.support.server import SHIPPED_RC_D, Server

# Every repo gets update and post-receive; gitolite-admin also pre-receive (content checks
# while the push is in quarantine) and post-update; pre-receive and post-update elsewhere
# only when the rc lists programs for them (repos.wanted_hooks).
HOOKS = ("update", "post-receive")
ADMIN_HOOKS = (*HOOKS, "pre-receive", "post-update")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    return {
        "admin": make_key(folder / "a", "admin"),
        "admin2": make_key(folder / "b", "admin"),
        "laptop": make_key(folder, "sam@laptop"),
    }


def hooks_linked(server: Server, repo: str) -> bool:
    common = server.admin_base / "hooks" / "common"
    hooks = server.repo_base / f"{repo}.git" / "hooks"
    wanted = ADMIN_HOOKS if repo == "gitolite-admin" else HOOKS
    unwanted = {"pre-receive", "post-update"} - set(wanted)
    return all(
        (hooks / h).is_symlink() and os.readlink(hooks / h) == str(common / h) for h in wanted
    ) and not any((hooks / h).exists() for h in unwanted)


def fresh_setup(server: Server, pub: Path) -> None:
    shutil.rmtree(server.rc_d)  # a truly empty account: setup installs rc.d itself
    r = server.cli("setup", "--pubkey", str(pub))
    assert r.returncode == 0, r.stdout + r.stderr


def test_fresh_setup(server: Server, keys: dict[str, Path]) -> None:
    fresh_setup(server, keys["admin"])
    # rc: a commented starter file the rc checker accepts, and the shipped rc.d.
    assert server.rc_file.read_text().startswith("# gitolite-triggers rc")
    assert server.cli("rc", "check").returncode == 0
    assert (server.rc_d / "10-defaults.yaml").read_bytes() == (
        SHIPPED_RC_D / "10-defaults.yaml"
    ).read_bytes()
    # admin base
    for sub in ("conf", "keydir", "logs"):
        assert (server.admin_base / sub).is_dir()
    conf = (server.admin_base / "conf" / "gitolite.conf").read_text()
    assert conf == DEFAULT_CONF.format(admin_repo="gitolite-admin", admin="admin")
    assert (server.admin_base / "keydir" / "admin.pub").read_text().split()[1] == key_blob(
        keys["admin"]
    )
    # the admin repo holds exactly conf + key, committed
    tree = bare_git(server, "gitolite-admin", "ls-tree", "-r", "--name-only", "HEAD").stdout.split()
    assert tree == ["conf/gitolite.conf", "keydir/admin.pub"]
    assert bare_git(server, "gitolite-admin", "show", "HEAD:conf/gitolite.conf").stdout == conf
    # compile created testing; every repo has our hooks
    for repo in ("gitolite-admin", "testing"):
        assert (server.repo_base / f"{repo}.git" / "HEAD").is_file()
        assert hooks_linked(server, repo), repo
    # the rules are in force
    assert server.cli("access", "-q", "gitolite-admin", "admin", "W", "any").returncode == 0
    assert server.cli("access", "-q", "gitolite-admin", "bob", "R", "any").returncode == 1
    assert server.cli("access", "-q", "testing", "bob", "W", "any").returncode == 0
    # POST_COMPILE ran: authorized_keys, projects.list, git-daemon-export-ok (@all includes gitweb, daemon)
    ak = server.home / ".ssh" / "authorized_keys"
    assert f'command="{shell_script(server.admin_base)} shell admin"' in ak.read_text()
    assert stat.S_IMODE(ak.stat().st_mode) == 0o600
    assert (server.home / "projects.list").read_text() == "testing.git\n"
    assert (server.repo_base / "testing.git" / "git-daemon-export-ok").exists()
    assert not (server.repo_base / "gitolite-admin.git" / "git-daemon-export-ok").exists()


def test_rerun_is_safe_and_repairs_hooks(server: Server, keys: dict[str, Path]) -> None:
    fresh_setup(server, keys["admin"])
    head = bare_git(server, "gitolite-admin", "rev-parse", "HEAD").stdout
    conf_before = (server.admin_base / "conf" / "gitolite.conf").read_text()
    # break things: a removed hook, a foreign hook file, a deleted central stub, an
    # extra repo made by hand without hooks
    (server.repo_base / "testing.git" / "hooks" / "update").unlink()
    post = server.repo_base / "gitolite-admin.git" / "hooks" / "post-update"
    post.unlink()
    post.write_text("#!/bin/sh\nexit 0\n")
    (server.admin_base / "hooks" / "common" / "update").unlink()
    bare_git(server, "x", "init", "-q", "--bare")
    nested = server.repo_base / "team" / "y.git"
    nested.parent.mkdir()
    bare_git(server, "team/y", "init", "-q", "--bare")

    r = server.cli("setup")
    assert r.returncode == 0, r.stdout + r.stderr
    for repo in ("gitolite-admin", "testing", "x", "team/y"):
        assert hooks_linked(server, repo), repo
    assert os.access(server.admin_base / "hooks" / "common" / "update", os.X_OK)
    # nothing else changed: same commit, same conf
    assert bare_git(server, "gitolite-admin", "rev-parse", "HEAD").stdout == head
    assert (server.admin_base / "conf" / "gitolite.conf").read_text() == conf_before
    # and again: still fine, still idempotent
    r = server.cli("setup")
    assert (
        r.returncode == 0 and bare_git(server, "gitolite-admin", "rev-parse", "HEAD").stdout == head
    )


def test_hooks_only(server: Server, keys: dict[str, Path]) -> None:
    fresh_setup(server, keys["admin"])
    (server.repo_base / "testing.git" / "hooks" / "post-receive").unlink()
    (server.admin_base / "conf" / "compiled.rules").unlink()  # repair needs no compiled rules
    r = server.cli("setup", "--hooks-only")
    assert r.returncode == 0 and "hooks re-linked in 2 repos" in r.stdout
    assert hooks_linked(server, "testing")


def test_rc_d_refresh_keeps_admin_fragments(server: Server, keys: dict[str, Path]) -> None:
    fresh_setup(server, keys["admin"])
    shipped = server.rc_d / "10-defaults.yaml"
    edited = shipped.read_text() + "\nPOST_CREATE:\n  - remove: post-compile/update-git-configs\n"
    shipped.write_text(edited)
    mine = server.write_rc("SITE_INFO: hello from 50-local\n", name="50-local.yaml")
    r = server.cli("setup")
    assert r.returncode == 0, r.stderr
    assert shipped.read_bytes() == (SHIPPED_RC_D / "10-defaults.yaml").read_bytes()
    assert (server.rc_d / "10-defaults.yaml.orig").read_text() == edited
    assert "10-defaults.yaml.orig" in r.stdout
    assert mine.read_text() == "SITE_INFO: hello from 50-local\n"
    assert server.cli("rc", "show", "SITE_INFO").stdout.strip() == "hello from 50-local"


def test_new_pubkey_replaces_admin_key(server: Server, keys: dict[str, Path]) -> None:
    fresh_setup(server, keys["admin"])
    r = server.cli("setup", "-pk", str(keys["admin2"]))
    assert r.returncode == 0, r.stderr
    assert bare_git(server, "gitolite-admin", "show", "HEAD:keydir/admin.pub").stdout.split()[
        1
    ] == key_blob(keys["admin2"])
    assert bare_git(server, "gitolite-admin", "rev-list", "--count", "HEAD").stdout.strip() == "2"
    ak = (server.home / ".ssh" / "authorized_keys").read_text()
    assert key_blob(keys["admin2"]) in ak and key_blob(keys["admin"]) not in ak


def test_admin_name_from_key_file_name(server: Server, keys: dict[str, Path]) -> None:
    fresh_setup(server, keys["laptop"])  # sam@laptop.pub -> sam
    assert "RW+     =   sam" in (server.admin_base / "conf" / "gitolite.conf").read_text()
    assert (server.admin_base / "keydir" / "sam.pub").is_file()
    assert server.cli("access", "-q", "gitolite-admin", "sam", "W", "any").returncode == 0


def test_setup_without_key_on_empty_account_refused(server: Server) -> None:
    r = server.cli("setup")
    assert r.returncode == 1
    assert "the first setup needs the admin's key" in r.stderr
    assert not (server.repo_base / "gitolite-admin.git").exists()


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("two.pub", "KEY\nKEY\n", "exactly one line"),
        ("junk.pub", "ssh-ed25519 AAAAnotakey x\n", "ssh-keygen -l does not accept"),
        ("opts.pub", 'command="/bin/sh" KEY\n', "not a public key line"),
        ("admin.key", "KEY\n", "must end in .pub"),
    ],
)
def test_bad_pubkey_refused(
    server: Server, keys: dict[str, Path], tmp_path: Path, name: str, text: str, message: str
) -> None:
    pub = tmp_path / name
    pub.write_text(text.replace("KEY", keys["admin"].read_text().strip()))
    r = server.cli("setup", "--pubkey", str(pub))
    assert r.returncode == 1
    assert message in r.stderr and str(pub) in r.stderr
    assert not server.admin_base.exists()


def test_invalid_existing_rc_refused_with_file_line(server: Server, keys: dict[str, Path]) -> None:
    server.write_rc("UMASK: 0077\nGL_REPO_BASE: [not, a, path]\n")
    r = server.cli("setup", "--pubkey", str(keys["admin"]))
    assert r.returncode == 1
    assert f"{server.rc_file}:2" in r.stderr
    assert not (server.admin_base / "conf").exists()
    assert not server.repo_base.exists()


def test_setup_without_git_identity(server: Server, keys: dict[str, Path]) -> None:
    """A fresh hosting account has no git identity: setup still commits (as $USER@host)."""
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        server.env.pop(var, None)
    server.env["EMAIL"] = ""
    server.env["USER"] = "git"
    shutil.rmtree(server.rc_d)
    r = server.cli("setup", "--pubkey", str(keys["admin"]))
    assert r.returncode == 0, r.stdout + r.stderr
    author = bare_git(server, "gitolite-admin", "log", "-1", "--format=%an <%ae>").stdout.strip()
    assert author.startswith("git <git@"), author
    assert not (server.home / ".gitconfig").exists()  # nothing written to the account's config


def test_rc_d_upgrade_replaces_unedited_and_removes_dropped_fragments(
    server: Server, keys: dict[str, Path]
) -> None:
    fresh_setup(server, keys["admin"])
    manifest = json.loads((server.rc_d / ".shipped.json").read_text())
    assert set(manifest) == {p.name for p in SHIPPED_RC_D.glob("*.yaml")}
    # pretend an older release shipped a different 10-defaults.yaml and a 05-old.yaml
    older = b"# an older shipped text\nPOST_COMPILE:\n  - post-compile/ssh-authkeys\n"
    (server.rc_d / "10-defaults.yaml").write_bytes(older)
    (server.rc_d / "05-old.yaml").write_bytes(older)
    (server.rc_d / "06-old-edited.yaml").write_bytes(b"SITE_INFO: mine now\n")
    manifest.update(
        {"10-defaults.yaml": sha256(older).hexdigest(), "05-old.yaml": sha256(older).hexdigest()}
    )
    manifest["06-old-edited.yaml"] = sha256(b"something else").hexdigest()
    (server.rc_d / ".shipped.json").write_text(json.dumps(manifest))

    r = server.cli("setup")
    assert r.returncode == 0, r.stderr
    assert (server.rc_d / "10-defaults.yaml").read_bytes() == (
        SHIPPED_RC_D / "10-defaults.yaml"
    ).read_bytes()
    assert not (server.rc_d / "10-defaults.yaml.orig").exists()  # ours, not edited: no backup
    assert "updated" in r.stdout
    assert not (server.rc_d / "05-old.yaml").exists()
    assert (server.rc_d / "06-old-edited.yaml").read_bytes() == b"SITE_INFO: mine now\n"
    assert "kept" in r.stdout


def test_setup_puts_the_gitolite_command_on_path(server: Server, keys: dict[str, Path]) -> None:
    """`setup` links ~/bin/gitolite to our lean `gitolite` launcher (as gitolite's install
    does), which answers gitolite's CLI; a link that is not ours is left alone."""
    import subprocess

    fresh_setup(server, keys["admin"])
    link = server.home / "bin" / "gitolite"
    assert link.is_symlink()
    r = subprocess.run(
        [str(link), "access", "-q", "gitolite-admin", "admin", "W", "any"],
        env=server.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    link.unlink()
    link.symlink_to("/usr/bin/gitolite")  # a real gitolite's
    r = server.cli("setup")
    assert r.returncode == 0, r.stderr
    assert f"left {link} alone (not ours)" in r.stdout
    assert str(link.readlink()) == "/usr/bin/gitolite"
