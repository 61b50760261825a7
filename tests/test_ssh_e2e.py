"""End to end through a real OpenSSH sshd: real git clients, per-user keys, the wrapper,
the repo hooks, wild repos, info/perms, and a recording trigger program that proves the
trigger contract (argv, environment, order) on real sessions.

One server account and one sshd for the whole module (tests run in file order and each
looks only at what its own actions recorded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import Server, make_server
from tests.support.sshd import SshClient, Sshd, SshKey, install_keys, make_key
from tests.support.sshworld import SshWorld, serve

USERS = ("admin", "alice", "bob", "carol", "dave")
CONF = """\
repo gitolite-admin
    RW+     =   admin

repo foo
    RW+     =   alice
    RW      =   bob
    R       =   carol
    option ENV.BUILD = yes

repo dev/CREATOR/..*
    C       =   alice bob
    RW+     =   CREATOR
    RW      =   WRITERS
    R       =   READERS
"""

RECORDER = """\
#!{python}
# Test trigger program: appends what it was called with to {rec}; exits 3 (after
# printing why on stderr) when {faildir}/fail-<its first argv word> exists.
import json, os, sys
args = sys.argv[1:]
kind = os.path.basename(sys.argv[0])
entry = {{"kind": kind, "argv": args,
          "env": {{k: v for k, v in os.environ.items() if k.startswith("GL_")}}}}
if kind == "record-hook":
    entry["stdin"] = sys.stdin.read()
if args and args[0] == "POST_GIT":
    from gitolite_triggers.hooks.pushrecord import updates_for
    from gitolite_triggers.rc import load_rc
    entry["updates"] = updates_for(load_rc(), os.environ["GL_TID"], os.environ["GL_REPO"])
fd = os.open({rec!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(fd, (json.dumps(entry) + "\\n").encode())
os.close(fd)
print("RECORDER-STDOUT", *args[:1])  # must never reach the git protocol stream
if args and os.path.exists(os.path.join({faildir!r}, "fail-" + args[0])):
    print("recorder: refusing", args[0], file=sys.stderr)
    sys.exit(3)
"""

RC_FRAGMENT = """\
LOCAL_CODE: {local}
ACCESS_CHECK: [record]
ACCESS_1: [record]
ACCESS_2: [record]
PRE_GIT: [record]
POST_GIT: [record]
PRE_CREATE: [record]
POST_CREATE: [record]
hooks:
  update: ["record-hook update"]
  post-receive: ["record-hook post-receive"]
"""


class World(SshWorld):
    def __init__(self, base: Path) -> None:
        self.base = base
        self.server: Server = make_server(base / "home")
        self.keys: dict[str, SshKey] = {u: make_key(base / "keys", u) for u in (*USERS, "stranger")}
        self.rec = base / "records.jsonl"
        self.faildir = base / "fail"
        self.faildir.mkdir()
        self.canary = base / "canary"
        srv = self.server
        admin_pub = base / "admin.pub"
        admin_pub.write_text(self.keys["admin"].pub + "\n")
        r = srv.cli("setup", "-pk", str(admin_pub))
        assert r.returncode == 0, r.stderr
        local = base / "local"
        (local / "triggers").mkdir(parents=True)
        for name in ("record", "record-hook"):
            p = local / "triggers" / name
            p.write_text(
                RECORDER.format(python=sys.executable, rec=str(self.rec), faildir=str(self.faildir))
            )
            p.chmod(0o755)
        srv.write_rc(RC_FRAGMENT.format(local=local), name="90-test.yaml")
        (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
        r = srv.cli("compile")
        assert r.returncode == 0, r.stderr
        install_keys(srv, [self.keys[u] for u in USERS])
        self.sshd = Sshd(base / "sshd", home=srv.home).start()
        self.rec.write_text("")

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.rec.read_text().splitlines()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("e2e"))
    yield from serve(w)


class Since:
    """Records and log text added since it was created."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.n = len(w.records())
        self.log_at = len(w.log())

    def records(self) -> list[dict[str, Any]]:
        return self.w.records()[self.n :]

    def log(self) -> str:
        return self.w.log()[self.log_at :]


def commit(work: Path, msg: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@e",
    }
    (work / "f.txt").write_text(msg + "\n")
    subprocess.run(["git", "-C", str(work), "add", "f.txt"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "commit", "-q", "-m", msg], check=True, env=env)
    return subprocess.run(
        ["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def triggers_only(records: list[dict[str, Any]]) -> list[list[str]]:
    """argv of the trigger-program calls, with POST_GIT's four times replaced by 'T'."""
    out = []
    for r in records:
        argv = (
            list(r["argv"]) if r["kind"] == "record" else ["hook:" + r["argv"][0], *r["argv"][1:]]
        )
        if argv[0] == "POST_GIT":
            assert len(argv) == 10, argv
            for t in argv[6:]:
                float(t)
                assert "e" not in t.lower() and t.replace(".", "").isdigit(), t
            argv = argv[:6] + ["T"] * 4
        out.append(argv)
    return out


ZERO = "0" * 40


def test_clone_push_and_the_trigger_contract(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    work = tmp_path / "foo"
    since = Since(world)
    r = alice.git("clone", alice.url("foo"), str(work))
    assert r.returncode == 0, r.stderr
    assert "RECORDER-STDOUT ACCESS_CHECK" in r.stderr  # trigger stdout went to the client's stderr
    clone = since.records()
    assert triggers_only(clone) == [
        ["ACCESS_CHECK", "foo", "alice", "R", "any", "refs/.*"],
        ["ACCESS_1", "foo", "alice", "R", "any", "refs/.*"],
        ["PRE_GIT", "foo", "alice", "R", "any", "git-upload-pack"],
        ["POST_GIT", "foo", "alice", "R", "any", "git-upload-pack", "T", "T", "T", "T"],
    ]
    tids = {r["env"]["GL_TID"] for r in clone}
    assert len(tids) == 1
    for rec in clone:
        env = rec["env"]
        assert env["GL_USER"] == "alice" and env["GL_REPO"] == "foo"
        assert env["GL_OPTION_BUILD"] == "yes"
        assert env["GL_REPO_BASE"] == str(world.server.repo_base)
        assert env["GL_ADMIN_BASE"] == str(world.server.admin_base)
        assert env["GL_LOGFILE"].startswith(str(world.server.admin_base / "logs"))
        assert os.path.isfile(os.path.join(env["GL_BINDIR"], "gitolite-triggers"))
    assert clone[-1]["updates"] == []  # a fetch updated nothing
    log = since.log()
    assert "\tssh\tARGV=alice\tSOC=git-upload-pack '/foo'\tFROM=127.0.0.1" in log
    assert "\tpre_git\tfoo\talice\tR\tany\trefs/.*" in log
    assert "\tEND" in log

    since = Since(world)
    new = commit(work, "one")
    r = alice.git("-C", str(work), "push", "origin", "HEAD:refs/heads/master")
    assert r.returncode == 0, r.stderr
    push = since.records()
    assert triggers_only(push) == [
        ["ACCESS_CHECK", "foo", "alice", "W", "any", "refs/.*"],
        ["ACCESS_1", "foo", "alice", "W", "any", "refs/.*"],
        ["PRE_GIT", "foo", "alice", "W", "any", "git-receive-pack"],
        ["ACCESS_CHECK", "foo", "alice", "W", "refs/heads/master", "refs/.*"],
        ["ACCESS_2", "foo", "alice", "W", "refs/heads/master", "refs/.*", ZERO, new],
        ["hook:update", "refs/heads/master", ZERO, new],
        ["hook:post-receive"],
        ["POST_GIT", "foo", "alice", "W", "any", "git-receive-pack", "T", "T", "T", "T"],
    ]
    assert len({r["env"]["GL_TID"] for r in push}) == 1  # hooks inherit the session's GL_TID
    assert push[0]["env"]["GL_TID"] not in tids
    assert all(r["env"]["GL_USER"] == "alice" and r["env"]["GL_REPO"] == "foo" for r in push)
    assert push[6]["stdin"] == f"{ZERO} {new} refs/heads/master\n"
    assert push[-1]["updates"] == [[ZERO, new, "refs/heads/master"]]
    log = since.log()
    assert f"\tupdate\tfoo\talice\tW\trefs/heads/master\t{ZERO}\t{new}\trefs/.*" in log


def _clone(world: World, user: str, repo: str, dest: Path) -> subprocess.CompletedProcess[str]:
    c = world.client(user)
    return c.git("clone", c.url(repo), str(dest))


def test_ff_rewind_tag_delete(world: World, tmp_path: Path) -> None:
    bob, alice = world.client("bob"), world.client("alice")
    work = tmp_path / "b"
    assert _clone(world, "bob", "foo", work).returncode == 0
    base = commit(work, "bob ff")
    r = bob.git("-C", str(work), "push", "origin", "HEAD:master")
    assert r.returncode == 0, r.stderr  # fast-forward by RW

    commit(work, "to be rewound")
    assert bob.git("-C", str(work), "push", "origin", "HEAD:master").returncode == 0
    subprocess.run(["git", "-C", str(work), "reset", "-q", "--hard", base], check=True)
    since = Since(world)
    r = bob.git("-C", str(work), "push", "-f", "origin", "HEAD:master")
    assert r.returncode != 0
    assert "FATAL: + refs/heads/master foo bob DENIED by fallthru" in r.stderr
    acc = [x for x in triggers_only(since.records()) if x[0] == "ACCESS_2"]
    assert acc and acc[0][3] == "+" and "DENIED" in acc[0][5]  # fired on denial too
    assert "\tdie\t+ refs/heads/master foo bob DENIED by fallthru" in since.log()

    awork = tmp_path / "a"
    assert _clone(world, "alice", "foo", awork).returncode == 0
    subprocess.run(["git", "-C", str(awork), "reset", "-q", "--hard", base], check=True)
    r = alice.git("-C", str(awork), "push", "-f", "origin", "HEAD:master")
    assert r.returncode == 0, r.stderr  # rewind by RW+

    subprocess.run(["git", "-C", str(work), "tag", "v1"], check=True)
    assert bob.git("-C", str(work), "push", "origin", "v1").returncode == 0  # new tag: W
    commit(work, "later")
    subprocess.run(["git", "-C", str(work), "tag", "-f", "v1"], check=True, capture_output=True)
    r = bob.git("-C", str(work), "push", "-f", "origin", "v1")
    assert r.returncode != 0 and "FATAL: + refs/tags/v1 foo bob DENIED by fallthru" in r.stderr

    assert bob.git("-C", str(work), "push", "origin", "HEAD:refs/heads/topic").returncode == 0
    r = bob.git("-C", str(work), "push", "origin", ":refs/heads/topic")
    assert r.returncode != 0 and "DENIED" in r.stderr  # delete is '+'
    r = alice.git("-C", str(awork), "push", "origin", ":refs/heads/topic")
    assert r.returncode == 0, r.stderr
    refs = subprocess.run(
        ["git", "-C", str(world.repo("foo")), "for-each-ref", "--format=%(refname)"],
        capture_output=True,
        text=True,
    ).stdout
    assert "refs/heads/topic" not in refs and "refs/tags/v1" in refs


def test_read_only_push_and_unknown_users_denied(world: World, tmp_path: Path) -> None:
    work = tmp_path / "c"
    assert _clone(world, "carol", "foo", work).returncode == 0
    commit(work, "carol")
    since = Since(world)
    r = world.client("carol").git("-C", str(work), "push", "origin", "HEAD:master")
    assert r.returncode != 0
    assert "FATAL: W any foo carol DENIED by fallthru" in r.stderr
    first = triggers_only(since.records())
    assert first[:2] == [
        ["ACCESS_CHECK", "foo", "carol", "W", "any", "W any foo carol DENIED by fallthru"],
        ["ACCESS_1", "foo", "carol", "W", "any", "W any foo carol DENIED by fallthru"],
    ]
    assert not [x for x in first if x[0] in ("PRE_GIT", "POST_GIT")]  # git never ran

    r = _clone(world, "dave", "foo", tmp_path / "d")
    assert r.returncode != 0 and "FATAL: R any foo dave DENIED by fallthru" in r.stderr
    r = _clone(world, "stranger", "foo", tmp_path / "s")
    assert r.returncode != 0 and "Permission denied" in r.stderr


def test_failing_access_check_or_pre_git_aborts(world: World, tmp_path: Path) -> None:
    for name in ("ACCESS_CHECK", "PRE_GIT"):
        flag = world.faildir / f"fail-{name}"
        flag.write_text("")
        try:
            since = Since(world)
            r = _clone(world, "alice", "foo", tmp_path / name)
        finally:
            flag.unlink()
        assert r.returncode != 0
        assert f"recorder: refusing {name}" in r.stderr
        assert f"FATAL: {name} trigger refused" in r.stderr
        assert not [x for x in triggers_only(since.records()) if x[0] == "POST_GIT"]


def test_wild_repo_created_by_clone(world: World, tmp_path: Path) -> None:
    since = Since(world)
    r = _clone(world, "alice", "dev/alice/proj", tmp_path / "p")
    assert r.returncode == 0, r.stderr
    path = world.repo("dev/alice/proj")
    assert (path / "gl-creator").read_text().strip() == "alice"
    assert os.readlink(path / "hooks" / "update") == str(
        world.server.admin_base / "hooks" / "common" / "update"
    )
    seq = triggers_only(since.records())
    assert seq[0] == ["PRE_CREATE", "dev/alice/proj", "alice"]
    assert seq[1] == ["POST_CREATE", "dev/alice/proj", "alice"]
    assert seq[2][:5] == ["ACCESS_CHECK", "dev/alice/proj", "alice", "R", "any"]
    assert "\tcreate\tdev/alice/proj\talice\tR" in since.log()

    r = _clone(world, "bob", "dev/alice/other", tmp_path / "o")  # not bob's pattern
    assert r.returncode != 0 and "DENIED" in r.stderr
    assert not world.repo("dev/alice/other").exists()
    r = _clone(world, "carol", "dev/carol/x", tmp_path / "x")  # no C for carol
    assert r.returncode != 0 and "DENIED" in r.stderr
    assert not world.repo("dev/carol/x").exists()

    work = tmp_path / "p"  # a push creates one too (attempted access W)
    commit(work, "first")
    alice = world.client("alice")
    r = alice.git("-C", str(work), "push", alice.url("dev/alice/pushed"), "HEAD:refs/heads/master")
    assert r.returncode == 0, r.stderr
    assert (world.repo("dev/alice/pushed") / "gl-creator").read_text() == "alice"
    assert "\tcreate\tdev/alice/pushed\talice\tW" in world.log()


def test_info(world: World) -> None:
    r = world.client("alice").ssh("info")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("hello alice, this is ")
    lines = r.stdout.splitlines()
    assert "     C\tdev/CREATOR/..*" in lines  # as gitolite 3.6.12 shows it (checked)
    assert " R W\tfoo" in lines
    assert " R W\tdev/alice/proj" in lines
    assert "gitolite-admin" not in r.stdout
    carol = world.client("carol").ssh("")  # an empty command is info
    assert " R  \tfoo" in carol.stdout.splitlines()
    assert "dev/alice/proj" not in carol.stdout


def test_perms(world: World, tmp_path: Path) -> None:
    alice, carol = world.client("alice"), world.client("carol")
    if not world.repo("dev/alice/proj").exists():
        assert _clone(world, "alice", "dev/alice/proj", tmp_path / "p").returncode == 0
    assert _clone(world, "carol", "dev/alice/proj", tmp_path / "c0").returncode != 0
    since = Since(world)
    r = alice.ssh("perms dev/alice/proj + READERS carol")
    assert r.returncode == 0, r.stderr
    assert ["POST_CREATE", "dev/alice/proj", "alice", "perms"] in triggers_only(since.records())
    assert alice.ssh("perms dev/alice/proj -l").stdout == "READERS carol\n"
    assert (world.repo("dev/alice/proj") / "gl-perms").read_text() == "READERS carol\n"
    assert _clone(world, "carol", "dev/alice/proj", tmp_path / "c1").returncode == 0
    commit(tmp_path / "c1", "carol")
    r = carol.git("-C", str(tmp_path / "c1"), "push", "origin", "HEAD:master")
    assert r.returncode != 0 and "DENIED" in r.stderr

    r = world.client("bob").ssh("perms dev/alice/proj -l")
    assert r.returncode != 0 and "repo does not exist, or you are not authorised" in r.stderr
    r = world.client("bob").ssh("perms dev/alice/proj + READERS bob")
    assert r.returncode != 0 and "not authorised" in r.stderr
    r = alice.ssh("perms dev/alice/proj + OWNERS carol")
    assert r.returncode != 0 and "Invalid role 'OWNERS'" in r.stderr

    assert alice.ssh("perms dev/alice/proj - READERS carol").returncode == 0
    assert alice.ssh("perms dev/alice/proj -l").stdout == ""
    assert _clone(world, "carol", "dev/alice/proj", tmp_path / "c2").returncode != 0


def test_help_and_unknown_command(world: World) -> None:
    r = world.client("bob").ssh("help")
    assert r.returncode == 0 and "perms" in r.stdout
    r = world.client("bob").ssh("create foo")
    assert r.returncode != 0 and "FATAL: unknown git/gitolite command: 'create foo'" in r.stderr


def test_hostile_commands_through_sshd(world: World) -> None:
    from tests.test_hostile import CORPUS, soc_of

    chosen = [e for e in CORPUS if e.get("sshd")]
    assert len(chosen) >= 6
    outside = world.base / "outside"
    outside.mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", str(outside / "real.git")], check=True)
    link = world.server.repo_base / "evil.git"
    link.symlink_to(outside / "real.git")
    try:
        for entry in chosen:
            since = Since(world)
            r = world.client("alice").ssh(soc_of(entry, world.canary))
            assert r.returncode != 0, entry["id"]
            assert "FATAL: " in r.stderr and entry["expect"] in r.stderr, (
                entry["id"],
                r.stderr[:300],
            )
            assert "Traceback" not in r.stderr
            assert r.stdout == ""
            assert not world.canary.exists()
            assert "\tdie\t" in since.log(), entry["id"]
    finally:
        link.unlink()


def test_hostile_ref_through_sshd(world: World, tmp_path: Path) -> None:
    work = tmp_path / "h"
    assert _clone(world, "alice", "foo", work).returncode == 0
    ref = f"refs/heads/$(touch${{IFS}}{world.canary})"
    r = world.client("alice").git("-C", str(work), "push", "origin", f"HEAD:{ref}")
    assert r.returncode != 0
    assert "FATAL: invalid characters in ref or filename" in r.stderr
    assert not world.canary.exists()
    refs = subprocess.run(
        ["git", "-C", str(world.repo("foo")), "for-each-ref"], capture_output=True, text=True
    ).stdout
    assert "touch" not in refs


def test_failing_access_2_rejects_the_ref(world: World, tmp_path: Path) -> None:
    work = tmp_path / "a2"
    assert _clone(world, "alice", "foo", work).returncode == 0
    before = subprocess.run(
        ["git", "-C", str(world.repo("foo")), "rev-parse", "master"], capture_output=True, text=True
    ).stdout
    commit(work, "refused by a trigger")
    flag = world.faildir / "fail-ACCESS_2"
    flag.write_text("")
    try:
        r = world.client("alice").git("-C", str(work), "push", "origin", "HEAD:master")
    finally:
        flag.unlink()
    assert r.returncode != 0
    assert (
        "recorder: refusing ACCESS_2" in r.stderr
        and "FATAL: ACCESS_2 trigger rejected refs/heads/master" in r.stderr
    )
    after = subprocess.run(
        ["git", "-C", str(world.repo("foo")), "rev-parse", "master"], capture_output=True, text=True
    ).stdout
    assert after == before


def test_bypass_variable_cannot_reach_the_hooks_through_ssh(world: World, tmp_path: Path) -> None:
    """Even if sshd's environment carried GL_BYPASS_ACCESS_CHECKS (an admin's mistake), the
    wrapper drops it: a rewind that RW forbids stays forbidden."""
    leaky = Sshd(
        world.base / "sshd-leaky", home=world.server.home, setenv={"GL_BYPASS_ACCESS_CHECKS": "1"}
    )
    with leaky:
        bob = SshClient(leaky, world.keys["bob"])
        work = tmp_path / "b"
        assert bob.git("clone", bob.url("foo"), str(work)).returncode == 0
        commit(work, "x1")
        assert bob.git("-C", str(work), "push", "origin", "HEAD:master").returncode == 0
        subprocess.run(["git", "-C", str(work), "reset", "-q", "--hard", "HEAD~1"], check=True)
        commit(work, "x2")
        r = bob.git("-C", str(work), "push", "-f", "origin", "HEAD:master")
        assert (
            r.returncode != 0
            and "FATAL: + refs/heads/master foo bob DENIED by fallthru" in r.stderr
        )
        assert "\tbypass\t" not in world.log()


def test_upload_archive(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    since = Since(world)
    r = subprocess.run(
        ["git", "archive", f"--remote={alice.url('foo')}", "--format=tar", "master"],
        env=alice.env(),
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert b"f.txt" in r.stdout
    seq = triggers_only(since.records())
    assert ["PRE_GIT", "foo", "alice", "R", "any", "git-upload-archive"] in seq
    r = subprocess.run(
        ["git", "archive", f"--remote={world.client('dave').url('foo')}", "master"],
        env=world.client("dave").env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "DENIED" in r.stderr


def test_concurrent_clones_create_a_wild_repo_once(world: World, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    since = Since(world)
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(
            pool.map(lambda i: _clone(world, "bob", "dev/bob/race", tmp_path / f"r{i}"), range(5))
        )
    failed = "\n----\n".join(r.stderr for r in results if r.returncode)
    assert not failed, failed
    seq = triggers_only(since.records())
    assert seq.count(["PRE_CREATE", "dev/bob/race", "bob"]) == 1
    assert seq.count(["POST_CREATE", "dev/bob/race", "bob"]) == 1
    assert since.log().count("\tcreate\tdev/bob/race\tbob\tR") == 1
    assert (world.repo("dev/bob/race") / "gl-creator").read_text() == "bob"


def test_failing_pre_create_creates_nothing(world: World, tmp_path: Path) -> None:
    flag = world.faildir / "fail-PRE_CREATE"
    flag.write_text("")
    since = Since(world)
    try:
        r = _clone(world, "bob", "dev/bob/deep/nested", tmp_path / "n")
    finally:
        flag.unlink()
    assert r.returncode != 0
    assert (
        "recorder: refusing PRE_CREATE" in r.stderr
        and "FATAL: PRE_CREATE trigger refused" in r.stderr
    )
    dies = [ln for ln in since.log().splitlines() if "\tdie\t" in ln]  # the one refusal
    assert len(dies) == 1 and "PRE_CREATE trigger refused creating 'dev/bob/deep/nested'" in dies[0]
    assert not (world.server.repo_base / "dev" / "bob" / "deep").exists()


def test_admin_push_through_sshd_applies_rules(world: World, tmp_path: Path) -> None:
    """Last test of the module (it replaces the rules): gitolite-admin's post-update hook
    hands the push to adminpush.post_update, which compiles the pushed conf."""
    admin = world.client("admin")
    work = tmp_path / "ga"
    r = admin.git("clone", admin.url("gitolite-admin"), str(work))
    assert r.returncode == 0, r.stderr
    (work / "conf").mkdir(exist_ok=True)
    (work / "conf" / "gitolite.conf").write_text(CONF + "\nrepo newrepo\n    RW+ = alice\n")
    keydir = work / "keydir"
    keydir.mkdir(exist_ok=True)
    for u in USERS:
        (keydir / f"{u}.pub").write_text(world.keys[u].pub + "\n")
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@e",
        "GIT_COMMITTER_NAME": "A",
        "GIT_COMMITTER_EMAIL": "a@e",
    }
    subprocess.run(["git", "-C", str(work), "commit", "-qm", "add newrepo"], check=True, env=env)
    branch = subprocess.run(
        ["git", "-C", str(work), "symbolic-ref", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    r = admin.git("-C", str(work), "push", "origin", f"HEAD:{branch}")
    assert r.returncode == 0, r.stderr
    assert world.repo("newrepo").is_dir()
    assert _clone(world, "alice", "newrepo", tmp_path / "n").returncode == 0
    assert _clone(world, "bob", "newrepo", tmp_path / "nb").returncode != 0
