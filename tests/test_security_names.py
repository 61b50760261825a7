"""Issue 10, defects 1, 4, 7 (user names) and 9, through the real paths.

1. Repo name aliases: ``hr//payroll`` and ``hr/./payroll`` reach ``hr/payroll.git`` but
   would be checked against no rules of their own. Every way in (git over a real sshd,
   the update hook, ``access`` and ``access --batch``, ``perms``, wild create, the conf)
   refuses them, and nothing is created on disk.
4. Depth: a 1,100-level tree made by hand under the repo base does not break ``info``,
   POST_COMPILE or ``setup``; the wrapper refuses to create anything that deep or long.
7. A user name with a trailing newline is never accepted.
9. CREATOR is a literal: ``j.doe`` cannot take ``jxdoe``'s ``dev/CREATOR/..*`` namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitolite_triggers import names
from tests.support.server import Server, make_server
from tests.support.sshd import Sshd, SshKey, install_keys, make_key
from tests.support.sshworld import SshWorld, serve

USERS = ("admin", "alice", "bob", "eve", "j.doe", "jxdoe")
CONF = """\
repo gitolite-admin
    RW+     =   admin

repo hr/payroll
    -       =   eve
    RW+     =   alice
    option deny-rules = 1

repo proj/app
    -   master  =   bob
    RW+         =   alice

repo proj/..*
    RW+     =   bob

repo @all
    R       =   eve

repo sandbox/..*
    C       =   @all
    RW+     =   CREATOR

repo dev/CREATOR/..*
    C       =   @all
    RW+     =   CREATOR
    R       =   READERS
"""


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` (not following symlinks) with its mode and size."""
    out = {}
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        for entry in os.scandir(folder):
            st = entry.stat(follow_symlinks=False)
            out[entry.path] = (st.st_mode, st.st_size)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return out


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


class World(SshWorld):
    """One server account behind a real sshd, CONF compiled, hr/payroll and proj/app with a commit."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.server: Server = make_server(base / "home")
        self.keys: dict[str, SshKey] = {u: make_key(base / "keys", u) for u in USERS}
        srv = self.server
        admin_pub = base / "admin.pub"
        admin_pub.write_text(self.keys["admin"].pub + "\n")
        r = srv.cli("setup", "-pk", str(admin_pub))
        assert r.returncode == 0, r.stderr
        (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
        r = srv.cli("compile")
        assert r.returncode == 0, r.stderr
        install_keys(srv, [self.keys[u] for u in USERS])
        self.sshd = Sshd(base / "sshd", home=srv.home).start()
        alice = self.client("alice")
        for repo in ("hr/payroll", "proj/app"):
            work = base / "seed" / repo
            r = alice.git("clone", alice.url(repo), str(work))
            assert r.returncode == 0, r.stderr
            (work / "secret.txt").write_text(f"{repo} secret\n")
            git("add", "secret.txt", cwd=work, env=alice.env())
            git("commit", "-qm", "seed", cwd=work, env=alice.env())
            r = alice.git("-C", str(work), "push", "origin", "HEAD:refs/heads/master")
            assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("names"))
    yield from serve(w)


# ---------------------------------------------------------------- 1. aliases over ssh


@pytest.mark.parametrize(
    ("alias", "why"),
    [
        ("hr//payroll", "contains an empty path segment"),
        ("hr/./payroll", "contains a '.' path segment"),
        ("hr//payroll.git", "contains an empty path segment"),
        ("hr/payroll/.", "contains a '.' path segment"),
        ("hr///payroll/", "contains an empty path segment"),
    ],
)
def test_denied_user_cannot_clone_through_an_alias(
    world: World, tmp_path: Path, alias: str, why: str
) -> None:
    eve = world.client("eve")
    r = eve.git("clone", eve.url("hr/payroll"), str(tmp_path / "direct"))
    assert r.returncode != 0 and "R any hr/payroll eve DENIED by refs/.*" in r.stderr, r.stderr
    before = tree(world.server.repo_base)
    r = eve.git("clone", eve.url(alias), str(tmp_path / "alias"))
    assert r.returncode != 0
    assert "FATAL: invalid repo name" in r.stderr and why in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "alias" / "secret.txt").exists()
    assert tree(world.server.repo_base) == before
    # eve's general read right still works elsewhere: the refusal is the name, not eve
    r = eve.git("clone", eve.url("proj/app"), str(tmp_path / "other"))
    assert r.returncode == 0, r.stderr


def test_user_denied_master_cannot_push_it_through_an_alias(world: World, tmp_path: Path) -> None:
    bob = world.client("bob")
    work = tmp_path / "app"
    r = bob.git("clone", bob.url("proj/app"), str(work))
    assert r.returncode == 0, r.stderr
    (work / "evil.txt").write_text("bob was here\n")
    git("add", "evil.txt", cwd=work, env=bob.env())
    git("commit", "-qm", "evil", cwd=work, env=bob.env())
    master = git("rev-parse", "refs/heads/master", cwd=world.repo("proj/app"))

    r = bob.git("-C", str(work), "push", bob.url("proj/app"), "HEAD:refs/heads/master")
    assert r.returncode != 0 and "DENIED by refs/heads/master" in r.stderr, r.stderr
    for alias in ("proj//app", "proj/./app", "proj//app.git"):
        r = bob.git("-C", str(work), "push", bob.url(alias), "HEAD:refs/heads/master")
        assert r.returncode != 0 and "FATAL: invalid repo name" in r.stderr, (alias, r.stderr)
    assert git("rev-parse", "refs/heads/master", cwd=world.repo("proj/app")) == master
    # bob may push other branches of proj/app (his W comes from proj/..*): only the name was refused
    r = bob.git("-C", str(work), "push", bob.url("proj/app"), "HEAD:refs/heads/bob-topic")
    assert r.returncode == 0, r.stderr


def test_update_hook_refuses_an_alias_in_gl_repo(world: World, tmp_path: Path) -> None:
    """Defence in depth: a push reaching the hooks with GL_REPO=proj//app (as if the SOC
    check were bypassed) is refused by the update hook's own access check."""
    env = {
        **world.server.env,
        "GL_USER": "bob",
        "GL_REPO": "proj//app",
        "GL_TID": "4242",
    }
    work = tmp_path / "w"
    git("clone", "-q", str(world.repo("proj/app")), str(work), env=env)
    git("commit", "-q", "--allow-empty", "-m", "x", cwd=work, env=env)
    master = git("rev-parse", "refs/heads/master", cwd=world.repo("proj/app"))
    push = subprocess.run(
        ["git", "-C", str(work), "push", str(world.repo("proj/app")), "HEAD:refs/heads/master"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert push.returncode != 0
    assert "FATAL: invalid repo name 'proj//app': it contains an empty path segment" in push.stderr
    assert "Traceback" not in push.stderr
    assert git("rev-parse", "refs/heads/master", cwd=world.repo("proj/app")) == master


def test_access_cli_refuses_aliases(world: World) -> None:
    srv = world.server
    p = srv.cli("access", "hr/payroll", "eve", "R")
    assert p.returncode == 1 and "DENIED" in p.stdout
    for alias, why in (
        ("hr//payroll", "contains an empty path segment"),
        ("hr/./payroll", "contains a '.' path segment"),
        ("hr/payroll/.", "contains a '.' path segment"),
    ):
        p = srv.cli("access", alias, "eve", "R")
        assert p.returncode == 2 and p.stdout == "", (alias, p.stdout)
        assert p.stderr.startswith("FATAL: ") and why in p.stderr, p.stderr
    p = srv.cli(
        "access",
        "--batch",
        input="hr/payroll eve R any\nhr//payroll eve R any\nhr/./payroll eve R any\n"
        "proj//app bob W master\n",
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("1\tR any hr/payroll eve DENIED")
    assert lines[1] == "2\t'hr//payroll' contains an empty path segment ('//')"
    assert lines[2] == "2\t'hr/./payroll' contains a '.' path segment"
    assert lines[3] == "2\t'proj//app' contains an empty path segment ('//')"


def test_perms_refuses_aliases(world: World, tmp_path: Path) -> None:
    jd = world.client("j.doe")
    if not world.repo("dev/j.doe/perms").exists():
        r = jd.git("clone", jd.url("dev/j.doe/perms"), str(tmp_path / "p"))
        assert r.returncode == 0, r.stderr
    assert jd.ssh("perms dev/j.doe/perms -l").returncode == 0
    before = tree(world.server.repo_base)
    for alias in ("dev/j.doe//perms", "dev/j.doe/./perms", "dev//j.doe/perms"):
        for command in (f"perms {alias} -l", f"perms {alias} + READERS eve"):
            r = jd.ssh(command)
            assert r.returncode != 0, command
            assert "repo does not exist, or you are not authorised" in r.stderr, r.stderr
    assert tree(world.server.repo_base) == before
    assert not (world.repo("dev/j.doe/perms") / "gl-perms").exists()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("sandbox//new", "contains an empty path segment"),
        ("sandbox/./new", "contains a '.' path segment"),
        ("sandbox/new/.", "contains a '.' path segment"),
        ("sandbox/" + "a/" * 32 + "x", "is more than 32 levels deep"),
        ("sandbox/" + "a" * 250, "is longer than 256 characters"),
        ("sandbox/" + "a/" * 1100 + "x", "is longer than 256 characters"),
    ],
    ids=["double-slash", "dot", "dot-end", "33-levels", "257-chars", "1100-levels"],
)
def test_wild_create_refuses_aliases_and_oversized_names(
    world: World, tmp_path: Path, name: str, why: str
) -> None:
    before = tree(world.server.repo_base)
    eve = world.client("eve")
    r = eve.git("clone", eve.url(name), str(tmp_path / "c"))
    assert r.returncode != 0 and "FATAL: invalid repo name" in r.stderr and why in r.stderr
    assert tree(world.server.repo_base) == before
    assert "\tcreate\t" not in world.log().split("SOC=git-upload-pack '/" + name[:100])[-1]


def test_create_wild_repo_itself_refuses_a_bad_name(server: Server) -> None:
    """The creation function checks the name too (its callers check first)."""
    from gitolite_triggers.errors import Fatal
    from gitolite_triggers.rc import load_rc
    from gitolite_triggers.runner import Options
    from gitolite_triggers.shell.create import create_wild_repo

    rc = load_rc()
    os.makedirs(rc.repo_base)
    for bad in ("sandbox//x", "sandbox/./x", "a/" * 40 + "x", "x" * 300, "sandbox/../x"):
        with pytest.raises(Fatal, match="^cannot create ") as refused:
            create_wild_repo(rc, bad, "eve", Options())
        assert refused.value.status == 1
    assert os.listdir(rc.repo_base) == []


def test_wild_create_of_an_ordinary_name_still_works(world: World, tmp_path: Path) -> None:
    eve = world.client("eve")
    name = "sandbox/" + "/".join(["l"] * 31)  # 32 levels: the most allowed
    r = eve.git("clone", eve.url(name), str(tmp_path / "ok"))
    assert r.returncode == 0, r.stderr
    assert (world.repo(name) / "gl-creator").read_text() == "eve"


# ---------------------------------------------------------------- 9. CREATOR is a literal


def test_creator_name_is_not_a_regex(world: World, tmp_path: Path) -> None:
    jd = world.client("j.doe")
    r = jd.git("clone", jd.url("dev/jxdoe/x"), str(tmp_path / "a"))
    assert r.returncode != 0 and "DENIED" in r.stderr, r.stderr
    assert not world.repo("dev/jxdoe").exists()
    r = jd.git("clone", jd.url("dev/j.doe/x"), str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    assert (world.repo("dev/j.doe/x") / "gl-creator").read_text() == "j.doe"
    jx = world.client("jxdoe")  # the namespace is still jxdoe's own
    r = jx.git("clone", jx.url("dev/jxdoe/x"), str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    assert (world.repo("dev/jxdoe/x") / "gl-creator").read_text() == "jxdoe"
    # and j.doe gets no CREATOR rights on it
    p = world.server.cli("access", "dev/jxdoe/x", "j.doe", "W")
    assert p.returncode == 1 and "DENIED" in p.stdout


def test_replace_creator_is_gitolites_word_rule_with_a_literal_name() -> None:
    import re

    from gitolite_triggers.conf.check import replace_creator

    cases = [
        ("dev/j.doe/x", "j.doe"),
        ("dev/jxdoe/x", "j.doe"),
        ("u/x+y/r", "x+y"),
        ("u/xxy/r", "x+y"),
        ("alice/alice", "alice"),
        ("malice/alice", "alice"),
        ("alice2/alice", "alice"),
        ("a_b/a", "a"),
        ("e@f/x", "e@f"),
        ("dev/@x/y", "@x"),
        ("u/a-/b", "a-"),
        ("u/a-b", "a-"),
        ("nobody/here", "alice"),
    ]
    for repo, creator in cases:
        got = replace_creator(repo, creator)
        literal = re.sub(
            r"\b" + re.escape(creator) + r"\b", "CREATOR", repo, count=1, flags=re.ASCII
        )
        assert (got or repo) == literal, (repo, creator)
        assert got == "" or got != repo
    assert replace_creator("x", "") == ""  # no creator (a plain repo): no generic name
    assert replace_creator("dev/jxdoe/x", "j.doe") == ""
    assert replace_creator("dev/j.doe/x", "j.doe") == "dev/CREATOR/x"
    assert replace_creator("u/x+y/r", "x+y") == "u/CREATOR/r"  # gitolite: no match at all


# ---------------------------------------------------------------- 7. user names


def test_user_name_with_a_trailing_newline_is_refused(world: World) -> None:
    env = {**world.server.env, "SSH_ORIGINAL_COMMAND": "git-upload-pack 'proj/app'"}
    for bad in ("alice\n", "alice\n\n", "a" * (names.MAX_USER_NAME_LENGTH + 1)):
        p = subprocess.run(
            [sys.executable, "-m", "gitolite_triggers", "shell", bad],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert p.returncode != 0 and "FATAL: invalid user name" in p.stderr, (bad, p.stderr)
        assert p.stdout == ""
    p = world.server.cli("access", "proj/app", "alice\n", "R")
    assert p.returncode == 2 and "invalid user" in p.stderr


# ---------------------------------------------------------------- conf


@pytest.mark.parametrize(
    ("conf", "line", "message"),
    [
        ("repo hr//payroll\n  R = u\n", 1, "bad reponame 'hr//payroll': contains an empty path"),
        ("repo a\n  R = u\nrepo a/./b\n  R = u\n", 3, "bad reponame 'a/./b': contains a '.'"),
        ("repo x/.\n  R = u\n", 1, "bad reponame 'x/.': contains a '.' path segment"),
        (
            "@g = ok x//y\nrepo @g\n  R = u\n",
            1,
            "bad reponame 'x//y' (a member of a repo group): contains an empty path",
        ),
        ("repo " + "a/" * 32 + "b\n  R = u\n", 1, "is more than 32 levels deep"),
        ("repo " + "a" * 257 + "\n  R = u\n", 1, "is longer than 256 characters"),
    ],
    ids=["double-slash", "dot", "dot-end", "group-member", "33-levels", "257-chars"],
)
def test_conf_naming_an_alias_is_refused_at_compile(
    server: Server, conf: str, line: int, message: str
) -> None:
    good = "repo keep\n  R = u\n"
    (server.admin_base / "conf").mkdir(parents=True)
    (server.admin_base / "conf" / "gitolite.conf").write_text(good)
    assert server.cli("compile").returncode == 0
    store = server.admin_base / "conf" / "compiled.rules"
    stored = store.read_bytes()
    before = tree(server.repo_base)
    (server.admin_base / "conf" / "gitolite.conf").write_text(conf)
    p = server.cli("compile")
    assert p.returncode != 0
    assert f"conf/gitolite.conf:{line}: " in p.stderr and message in p.stderr, p.stderr
    assert tree(server.repo_base) == before
    assert store.read_bytes() == stored


# ---------------------------------------------------------------- 4. a deep tree on disk


DEEP_LEVELS = 1100


@pytest.fixture
def deep_repo(server: Server) -> Iterator[Path]:
    """``repositories/deep/a/a/.../a/x.git``, 1,100 levels, made by hand level by level
    (os.makedirs recurses once per level). Removed again level by level afterwards:
    pytest's own clean-up of old temp folders (shutil.rmtree) recurses too, and would
    crash a later session of anyone sharing the machine."""
    top = server.repo_base / "deep"
    top.mkdir(parents=True)
    chain = [top]
    for _ in range(DEEP_LEVELS):
        chain.append(chain[-1] / "a")
        chain[-1].mkdir()
    repo = chain[-1] / "x.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    try:
        yield repo
    finally:
        shutil.rmtree(repo, ignore_errors=True)
        for folder in reversed(chain):
            for leftover in folder.iterdir() if folder.is_dir() else ():
                if leftover.name != "a":
                    shutil.rmtree(leftover, ignore_errors=True)
            folder.rmdir()


def test_a_1100_level_tree_breaks_neither_info_nor_post_compile_nor_setup(
    server: Server, tmp_path: Path, deep_repo: Path
) -> None:
    key = make_key(tmp_path / "keys", "admin")
    r = server.cli("setup", "--pubkey", f"{key.path}.pub")
    assert r.returncode == 0, r.stderr
    (server.admin_base / "conf" / "gitolite.conf").write_text(
        "repo gitolite-admin\n  RW+ = admin\nrepo pub\n  R = @all gitweb\nrepo l/..*\n  R = gitweb\n"
    )
    assert server.cli("compile").returncode == 0
    deep = deep_repo
    assert len(str(deep.relative_to(server.repo_base))) > 2 * DEEP_LEVELS
    # a 32-level repo made by hand is still found (the limit is inclusive)
    ok_name = "/".join(["l"] * 31) + "/ok"
    ok = server.repo_base / f"{ok_name}.git"
    ok.parent.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", str(ok)], check=True)

    env = {**server.env, "SSH_ORIGINAL_COMMAND": "info"}
    p = subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "shell", "admin"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=server.home,
    )
    assert p.returncode == 0, p.stderr
    assert " R  \tpub" in p.stdout.splitlines()
    assert "deep/" not in p.stdout and "Traceback" not in p.stderr

    p = server.cli("setup")  # re-links every repo's hooks, compiles, fires POST_COMPILE
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert (ok / "hooks" / "update").is_symlink()  # the 32-level repo was found
    assert not (deep / "hooks" / "update").exists()  # the 1,100-level one was not walked to

    p = server.cli("trigger", "POST_COMPILE")
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "RecursionError" not in p.stderr
    projects = (server.home / "projects.list").read_text().split()
    assert "pub.git" in projects and f"{ok_name}.git" in projects
    assert not any(line.startswith("deep/") for line in projects)

    log = server.log_text()
    assert "repo base walk: skipped 'deep/" in log and "is more than 32 levels deep" in log
