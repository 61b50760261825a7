"""Admin pushes through a real ``git push`` into the real hooks: rules, keys, and bad confs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.support.adminkeys import key_blob, make_key
from tests.support.adminrepo import bare_git, clone_admin, commit_all, head_branch, push_as
from tests.support.server import Server


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: make_key(folder, name) for name in ("admin", "alice", "bob")}


@pytest.fixture
def admin(server: Server, keys: dict[str, Path], tmp_path: Path) -> Path:
    """A set-up server and the admin's clone of gitolite-admin."""
    r = server.cli("setup", "--pubkey", str(keys["admin"]))
    assert r.returncode == 0, r.stdout + r.stderr
    return clone_admin(server, tmp_path / "gitolite-admin")


def can(server: Server, repo: str, user: str, perm: str = "R") -> bool:
    return server.cli("access", "-q", repo, user, perm, "any").returncode == 0


def authorized(server: Server) -> str:
    return (server.home / ".ssh" / "authorized_keys").read_text()


GOOD_CONF = """\
repo gitolite-admin
    RW+     =   admin

repo testing
    RW+     =   @all

repo foo
    RW+     =   alice
    R       =   bob
"""


def test_push_changes_rules_and_keys(server: Server, keys: dict[str, Path], admin: Path) -> None:
    assert not can(server, "foo", "alice")
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF)
    (admin / "keydir" / "alice.pub").write_text(keys["alice"].read_text())
    (admin / "keydir" / "bob@work.pub").write_text(keys["bob"].read_text())
    (admin / "README.md").write_text("how we run this server\n")  # other top-level files are fine
    commit_all(admin, server.env, "add foo, alice, bob")

    r = push_as(server, admin, "admin")
    assert r.returncode == 0, r.stderr
    # git's words for the new repo, as gitolite shows them on an admin push (t/ files match it)
    assert (
        f"remote: Initialized empty Git repository in {server.repo_base / 'foo.git'}/" in r.stderr
    )
    # the new repo exists, with our hooks; the rules are in force
    foo = server.repo_base / "foo.git"
    assert (foo / "HEAD").is_file() and (foo / "hooks" / "update").is_symlink()
    assert can(server, "foo", "alice", "W") and can(server, "foo", "bob", "R")
    assert not can(server, "foo", "bob", "W")
    # the admin base holds the pushed files; ssh-authkeys wrote the new keys
    assert (server.admin_base / "conf" / "gitolite.conf").read_text() == GOOD_CONF
    assert (server.admin_base / "README.md").read_text() == "how we run this server\n"
    ak = authorized(server)
    assert key_blob(keys["alice"]) in ak and key_blob(keys["bob"]) in ak
    assert ' shell bob"' in ak  # bob@work.pub is user bob

    # remove bob's key and his access: both go away
    (admin / "keydir" / "bob@work.pub").unlink()
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF.replace("    R       =   bob\n", ""))
    commit_all(admin, server.env, "drop bob")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0, r.stderr
    assert not can(server, "foo", "bob", "R")
    assert key_blob(keys["bob"]) not in authorized(server)
    assert not (server.admin_base / "keydir" / "bob@work.pub").exists()


def test_bad_conf_push_keeps_last_good_state(
    server: Server, keys: dict[str, Path], admin: Path
) -> None:
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF)
    (admin / "keydir" / "alice.pub").write_text(keys["alice"].read_text())
    commit_all(admin, server.env, "good")
    assert push_as(server, admin, "admin").returncode == 0
    good = bare_git(server, "gitolite-admin", "rev-parse", "HEAD").stdout.strip()
    ak_before = authorized(server)

    # line 12 is broken (an unknown permission); bob's key would be added too
    bad_conf = GOOD_CONF + "\nrepo bar\n    XYZ     =   bob\n"
    (admin / "conf" / "gitolite.conf").write_text(bad_conf)
    (admin / "keydir" / "bob.pub").write_text(keys["bob"].read_text())
    commit_all(admin, server.env, "bad")
    r = push_as(server, admin, "admin")

    # the push is refused (pre-receive compiled it from quarantine): the ref did not move ...
    assert r.returncode != 0
    assert "pre-receive hook declined" in r.stderr
    assert bare_git(server, "gitolite-admin", "rev-parse", "HEAD").stdout.strip() == good
    # ... and the pusher is told where the error is, and that nothing changed
    remote = [ln for ln in r.stderr.splitlines() if ln.startswith("remote:")]
    text = "\n".join(remote)
    assert "gitolite.conf:12:" in text, r.stderr
    assert "refused: nothing changed (the rules in force are still those of" in text
    assert good[:12] in text
    # the last good state is still in force: rules, repos, keys, and the files on the server
    assert can(server, "foo", "alice", "W")
    assert not (server.repo_base / "bar.git").exists()
    assert authorized(server) == ak_before
    assert (server.admin_base / "conf" / "gitolite.conf").read_text() == GOOD_CONF
    assert not (server.admin_base / "keydir" / "bob.pub").exists()

    # a fixed push then applies normally
    (admin / "conf" / "gitolite.conf").write_text(bad_conf.replace("XYZ", "RW "))
    commit_all(admin, server.env, "fixed")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0 and "FATAL" not in r.stderr, r.stderr
    assert can(server, "bar", "bob", "W")
    assert key_blob(keys["bob"]) in authorized(server)


def test_push_to_other_branch_is_not_compiled(server: Server, admin: Path) -> None:
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF)
    commit_all(admin, server.env, "on a side branch")
    r = push_as(server, admin, "admin", refspec="HEAD:refs/heads/side")
    assert r.returncode == 0, r.stderr
    assert not (server.repo_base / "foo.git").exists()
    assert "repo foo" not in (server.admin_base / "conf" / "gitolite.conf").read_text()


@pytest.mark.parametrize(
    "path, message",
    [
        ("hooks/update", "top-level 'hooks'"),
        ("logs/x.log", "top-level 'logs'"),
        ("bin/gitolite-triggers", "top-level 'bin'"),
        ("conf/compiled.rules", "'conf/compiled.rules'; that name is the server's own"),
        ("spool/x", "top-level 'spool', but $GL_ADMIN_BASE/spool is the server's own"),
    ],
)
def test_server_owned_paths_refused(server: Server, admin: Path, path: str, message: str) -> None:
    store = server.admin_base / "conf" / "compiled.rules"
    store_before = store.read_bytes()
    spool = server.admin_base / "spool"  # like buildkite/ or push-records/: server state
    spool.mkdir()
    (spool / "x").write_text("server data\n")
    (admin / path).parent.mkdir(exist_ok=True)
    (admin / path).write_text("#!/bin/sh\nexit 0\n")
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF)
    commit_all(admin, server.env, "sneak a server file in")
    r = push_as(server, admin, "admin")
    assert message in r.stderr and "nothing changed" in r.stderr, r.stderr
    assert "pre-receive hook declined" in r.stderr  # refused: the ref did not move
    assert not (server.repo_base / "foo.git").exists()
    assert "repo foo" not in (server.admin_base / "conf" / "gitolite.conf").read_text()
    # the server's own files are untouched
    for own in ("hooks/common/update", "bin/gitolite-triggers"):
        assert "gitolite-triggers launcher" in (server.admin_base / own).read_text(), own
    assert store.read_bytes() == store_before
    assert (spool / "x").read_text() == "server data\n"


def test_non_admin_cannot_push_admin_repo(server: Server, admin: Path) -> None:
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF)
    commit_all(admin, server.env, "alice tries")
    r = push_as(server, admin, "alice")
    assert r.returncode != 0
    assert "W refs/heads/" in r.stderr and "gitolite-admin alice DENIED" in r.stderr
    assert not (server.repo_base / "foo.git").exists()
    assert "repo foo" not in (server.admin_base / "conf" / "gitolite.conf").read_text()


def test_local_hooks_pushed_are_linked_everywhere(server: Server, admin: Path) -> None:
    """LOCAL_CODE inside the admin repo: a pushed local/hooks/common/ hook reaches every repo."""
    server.write_rc("LOCAL_CODE: ~/.gitolite/local\n", name="50-local.yaml")
    hook = admin / "local" / "hooks" / "common" / "pre-auto-gc"
    hook.parent.mkdir(parents=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    commit_all(admin, server.env, "a local hook")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0, r.stderr
    target = server.admin_base / "local" / "hooks" / "common" / "pre-auto-gc"
    assert target.is_file()
    for repo in ("gitolite-admin", "testing"):
        link = server.repo_base / f"{repo}.git" / "hooks" / "pre-auto-gc"
        assert link.is_symlink() and Path(os.readlink(link)) == target, repo


RECORDER = """#!{python}
import json, os, sys
with open({out!r}, "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}) + "\\n")
"""


def test_post_compile_programs_do_not_see_the_admin_repo(
    server: Server, admin: Path, tmp_path: Path
) -> None:
    """Compile and POST_COMPILE run outside receive-pack's GIT_DIR, in $HOME, as GL_USER."""
    local = tmp_path / "local"
    (local / "triggers").mkdir(parents=True)
    out = tmp_path / "seen.jsonl"
    rec = local / "triggers" / "record"
    rec.write_text(RECORDER.format(python=sys.executable, out=str(out)))
    rec.chmod(0o755)
    server.write_rc(f"LOCAL_CODE: {local}\nPOST_COMPILE:\n  - record\n", name="50-record.yaml")
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF)
    commit_all(admin, server.env, "record")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0, r.stderr
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(seen) == 1
    assert seen[0]["argv"] == ["POST_COMPILE"]
    assert seen[0]["cwd"] == str(server.home)
    assert seen[0]["env"]["GL_USER"] == "admin"
    assert not [
        k
        for k in seen[0]["env"]
        if k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_QUARANTINE_PATH")
    ]


def test_post_compile_failure_is_reported(server: Server, admin: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    (local / "triggers").mkdir(parents=True)
    fail = local / "triggers" / "fail"
    fail.write_text("#!/bin/sh\necho 'cannot reach the mirror' >&2\nexit 3\n")
    fail.chmod(0o755)
    server.write_rc(f"LOCAL_CODE: {local}\nPOST_COMPILE:\n  - fail\n", name="50-fail.yaml")
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF)
    commit_all(admin, server.env, "rules, then a failing POST_COMPILE program")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0
    assert "remote: cannot reach the mirror" in r.stderr
    assert "the new rules are in force, but POST_COMPILE stopped with status 3" in r.stderr
    assert can(server, "foo", "alice", "W")  # the rules did change
    # ... and the drift is recorded (docs/reliability.md) until `compile` runs it again
    git_dir = server.repo_base / "gitolite-admin.git"
    record = json.loads((git_dir / "gl-drift.json").read_text())
    tip = bare_git(server, "gitolite-admin", "rev-parse", "HEAD").stdout.strip()
    assert (record["commit"], record["step"]) == (tip, "post-compile")
    assert record["problem"] == "POST_COMPILE stopped with status 3"
    assert (git_dir / "gl-last-good").read_text().strip() == tip  # the rules are the tip's
    assert server.cli("compile").returncode == 3  # still failing (its status): still drift
    assert (git_dir / "gl-drift.json").exists()
    fail.write_text("#!/bin/sh\nexit 0\n")
    r = server.cli("compile")
    assert r.returncode == 0, r.stderr
    assert not (git_dir / "gl-drift.json").exists()


def test_setup_after_a_bad_push_does_not_revert_it(
    server: Server, keys: dict[str, Path], admin: Path, tmp_path: Path
) -> None:
    """$GL_ADMIN_BASE holds the last good files while the branch has a bad commit (an older
    version accepted such pushes; today a bypass could put one there): setup must not
    commit them back."""
    bad_conf = GOOD_CONF + "\nrepo bar\n    XYZ     =   bob\n"
    (admin / "conf" / "gitolite.conf").write_text(bad_conf)
    commit_all(admin, server.env, "bad")
    r = push_as(server, admin, "admin")
    assert "gitolite.conf:12:" in r.stderr and "nothing changed" in r.stderr, r.stderr
    assert push_as(server, admin, "admin", refspec="HEAD:refs/heads/side").returncode == 0
    branch = f"refs/heads/{head_branch(server)}"
    bare_git(server, "gitolite-admin", "update-ref", branch, "refs/heads/side")
    bad_head = bare_git(server, "gitolite-admin", "rev-parse", "HEAD").stdout.strip()

    r = server.cli("setup")
    assert r.returncode == 0, r.stderr
    assert bare_git(server, "gitolite-admin", "rev-parse", "HEAD").stdout.strip() == bad_head

    new_key = make_key(tmp_path / "k2", "admin")
    r = server.cli("setup", "-pk", str(new_key))
    assert r.returncode == 0, r.stderr
    # one commit on top of the bad one: the new key, and the pushed (bad) conf left as pushed
    assert bare_git(server, "gitolite-admin", "rev-parse", "HEAD~1").stdout.strip() == bad_head
    assert bare_git(server, "gitolite-admin", "show", "HEAD:conf/gitolite.conf").stdout == bad_conf
    assert bare_git(server, "gitolite-admin", "show", "HEAD:keydir/admin.pub").stdout.split()[
        1
    ] == key_blob(new_key)
    assert key_blob(new_key) in authorized(server)
    assert not can(server, "bar", "bob")  # still the last good rules
