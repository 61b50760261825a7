"""``ssh git@host builds REPO [REF]`` and ``ssh git@host build REPO REF`` through a real
sshd, the wrapper and the stand-in: who may run them, what they print, that a refresh
from the API is used when it comes and the answer says "stale" (without hanging) when it
does not, and that ``build`` makes a second build of a commit that has one."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitolite_triggers.buildkite.spool import Spool
from tests.support.server import Server, make_server
from tests.support.sshd import Sshd, SshKey, install_keys, make_key
from tests.support.sshworld import SshWorld, serve
from tests.support.standin import ORG, PIPELINE, TOKEN, bk_rc, running_standin, wait_until

CONF = """\
repo gitolite-admin
    RW+     =   admin

repo foo
    RW+     =   alice
    R       =   bob

repo bar
    RW+     =   alice
"""
PIPES = f'    - repos: "foo|bar"\n      org: {ORG}\n      pipeline: {PIPELINE}\n'
USERS = ("admin", "alice", "bob", "carol")


class World(SshWorld):
    def __init__(self, base: Path, si: object) -> None:
        self.si = si
        self.server: Server = make_server(base / "home")
        srv = self.server
        self.keys: dict[str, SshKey] = {u: make_key(base / "keys", u) for u in USERS}
        (base / "admin.pub").write_text(self.keys["admin"].pub + "\n")
        assert srv.cli("setup", "-pk", str(base / "admin.pub")).returncode == 0
        tf = srv.home / ".buildkite-token"
        tf.write_text(TOKEN + "\n")
        tf.chmod(0o600)
        srv.write_rc(
            bk_rc(si.api_url, PIPES, extra="  token_file: ~/.buildkite-token\n"),  # type: ignore[attr-defined]
            name="50-buildkite-test.yaml",
        )
        (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
        assert srv.cli("compile").returncode == 0
        install_keys(srv, [self.keys[u] for u in USERS if u != "admin"])
        self.sshd = Sshd(base / "sshd", home=srv.home).start()
        self.spool = Spool(srv.admin_base / "buildkite")
        self.work = base / "work"

    def drained(self) -> None:
        wait_until(lambda: not self.spool.ids("pending") and not self.spool.holder(), timeout=30)

    def push_commit(self, repo: str, message: str) -> str:
        alice = self.client("alice")
        work = self.work / repo
        if not work.exists():
            assert alice.git("clone", "-q", alice.url(repo), str(work)).returncode == 0
            subprocess.run(["git", "-C", str(work), "checkout", "-q", "-b", "main"], check=True)
        subprocess.run(
            ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", message],
            check=True,
            env=alice.env(),
        )
        r = alice.git("push", "-q", "origin", "main", cwd=work)
        assert r.returncode == 0, r.stderr
        self.drained()
        return subprocess.run(
            ["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_standin() as si:
        w = World(tmp_path_factory.mktemp("bk-cmds"), si)
        yield from serve(w)
        si.clear_faults()  # type: ignore[attr-defined]


def test_help_lists_both(world: World) -> None:
    r = world.client("carol").ssh("help")
    assert r.returncode == 0
    assert "\tbuild\n" in r.stdout and "\tbuilds\n" in r.stdout


def test_builds_for_a_reader_with_states_from_the_api(world: World) -> None:
    sha = world.push_commit("foo", "first")
    (b,) = [x for x in world.si.builds() if x["commit"] == sha]  # type: ignore[attr-defined]
    r = world.client("bob").ssh("builds foo")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[0].split()
    assert line[:4] == [f"#{b['number']}", "scheduled", "main", sha[:7]]
    assert line[4] == b["web_url"] and line[-1] == "ago"
    assert "states as recorded" not in r.stdout
    b["state"] = "passed"  # the build ran: the stand-in's object is what the API serves
    r = world.client("bob").ssh("builds foo refs/heads/main")
    assert r.stdout.split()[:2] == [f"#{b['number']}", "passed"], r.stdout
    assert (
        world.client("bob").ssh("builds foo other").stdout == "no builds of foo other on record\n"
    )


def test_builds_says_stale_and_never_hangs(world: World) -> None:
    world.push_commit("foo", "second")
    world.si.add_fault("hang", method="GET", path_contains="/builds")  # type: ignore[attr-defined]
    try:
        t = time.monotonic()
        r = world.client("alice").ssh("builds foo")
        took = time.monotonic() - t
    finally:
        world.si.clear_faults()  # type: ignore[attr-defined]
    assert r.returncode == 0, r.stderr
    assert took < 8, took
    assert (
        "(states as recorded when each build was created: Buildkite did not answer in time)"
        in r.stdout
    )
    assert len([ln for ln in r.stdout.splitlines() if ln.lstrip().startswith("#")]) >= 2
    # newest first
    numbers = [
        int(ln.split()[0][1:]) for ln in r.stdout.splitlines() if ln.lstrip().startswith("#")
    ]
    assert numbers == sorted(numbers, reverse=True)


def test_non_readers_and_readers_are_refused_in_gitolite_words(world: World) -> None:
    world.push_commit("bar", "bar's first")
    for cmd in ("builds bar", "build bar main", "builds nosuch", "build nosuch main"):
        r = world.client("carol").ssh(cmd)
        assert r.returncode != 0
        assert r.stderr.strip() == "FATAL: repo does not exist, or you are not authorised", cmd
        assert r.stdout == ""
    r = world.client("bob").ssh("builds bar")  # bob reads foo only
    assert r.stderr.strip() == "FATAL: repo does not exist, or you are not authorised"
    r = world.client("bob").ssh("build foo main")
    assert r.returncode != 0
    assert r.stderr.strip() == "FATAL: W refs/heads/main foo bob DENIED by fallthru"
    assert "build\tfoo" not in world.log()


def test_build_makes_a_second_build_of_the_same_commit(world: World) -> None:
    sha = world.push_commit("bar", "to be rebuilt")
    before = [b for b in world.si.builds() if b["commit"] == sha]  # type: ignore[attr-defined]
    assert len(before) == 1
    r = world.client("alice").ssh("build bar main")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == f"buildkite: queued {ORG}/{PIPELINE} build for main ({sha[:7]})"
    after = [b for b in world.si.builds() if b["commit"] == sha]  # type: ignore[attr-defined]
    assert len(after) == 2
    assert out[1] == f"buildkite: build #{after[1]['number']} {after[1]['web_url']}"
    assert after[1]["meta_data"]["gitolite_user"] == "alice"
    ids = {b["meta_data"]["gitolite_triggers_delivery_id"] for b in after}
    assert len(ids) == 2  # a new delivery id: past the one-build-per-commit rule
    assert f"\tbuild\tbar\trefs/heads/main\t{sha}\talice\t" in world.log()
    r = world.client("alice").ssh("build bar nosuchbranch")
    assert r.returncode != 0 and r.stderr.strip() == "FATAL: no ref 'nosuchbranch' in bar"


def test_build_caps_the_builds_a_user_has_queued(world: World) -> None:
    """A writer cannot queue builds without bound: at MAX_QUEUED_PER_USER undelivered
    `build`s of theirs the next is refused; other users and delivered builds do not count."""
    from gitolite_triggers.shell.cmd_build import MAX_QUEUED_PER_USER

    sha = world.push_commit("bar", "cap")
    held = []
    for i in range(MAX_QUEUED_PER_USER):  # undelivered: due in a day
        rec = {"id": f"{i:032x}", "repo": "bar", "ref": "refs/heads/main", "old": sha,
               "new": sha, "user": "alice", "source": "ssh-build", "org": ORG,
               "pipeline": PIPELINE, "body": {}, "created": time.time(), "attempts": 0,
               "next_at": time.time() + 86400, "maybe_posted": False, "history": []}  # fmt: skip
        assert world.spool.add(rec)
        held.append(rec["id"])
    r = world.client("alice").ssh("build bar main")
    assert r.returncode != 0
    assert f"you have {MAX_QUEUED_PER_USER} builds queued already" in r.stderr, r.stderr
    for rid in held:
        world.spool.path("pending", rid).unlink()
    r = world.client("alice").ssh("build bar main")
    assert r.returncode == 0, r.stderr
