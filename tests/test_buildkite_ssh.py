"""End to end through a real OpenSSH sshd: real pushes by real git clients through the
wrapper and the repo hooks, the build program registered as shipped (POST_GIT and
post-receive), a detached deliverer, and the Buildkite stand-in on loopback.

One server account, one sshd and one stand-in for the module; each test uses its own
repos or branches and waits (by polling) until the spool is drained.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitolite_triggers.buildkite.spool import Spool
from tests.support.server import Server, make_server
from tests.support.sshd import SshClient, Sshd, SshKey, install_keys, make_key
from tests.support.sshworld import SshWorld
from tests.support.standin import ORG, PIPELINE, TOKEN, bk_rc, running_standin, wait_until

APPS = [f"apps/r{i}" for i in range(1, 6)]
CONF = f"""\
repo gitolite-admin
    RW+     =   admin

repo foo quiet {" ".join(APPS)}
    RW+     =   alice bob

repo quiet
    option buildkite.enabled = 0

repo special
    RW+     =   alice
    option buildkite.pipeline = {ORG}/special
    option buildkite.branches = dev

repo filtered
    RW+     =   alice
    option buildkite.pipeline = {ORG}/filtered
"""
PIPES = f"""    - repos: "foo|quiet|apps/.*"
      org: {ORG}
      pipeline: {PIPELINE}
      branches: ["main", "release/*"]
"""


class World(SshWorld):
    def __init__(self, base: Path, si: object) -> None:
        self.base, self.si = base, si
        self.server: Server = make_server(base / "home")
        srv = self.server
        self.keys: dict[str, SshKey] = {
            u: make_key(base / "keys", u) for u in ("admin", "alice", "bob")
        }
        (base / "admin.pub").write_text(self.keys["admin"].pub + "\n")
        r = srv.cli("setup", "-pk", str(base / "admin.pub"))
        assert r.returncode == 0, r.stderr
        self.token_file = srv.home / ".buildkite-token"
        self.token_file.write_text(TOKEN + "\n")
        self.token_file.chmod(0o600)
        srv.write_rc(
            bk_rc(si.api_url, PIPES, extra="  token_file: ~/.buildkite-token\n"),
            name="50-buildkite-test.yaml",
        )
        (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
        r = srv.cli("compile")
        assert r.returncode == 0, r.stderr
        install_keys(srv, [self.keys[u] for u in ("alice", "bob")])
        self.sshd = Sshd(base / "sshd", home=srv.home).start()
        self.spool = Spool(srv.admin_base / "buildkite")

    def drained(self, timeout: float = 30) -> None:
        """Wait until nothing is pending and no deliverer runs."""
        wait_until(
            lambda: not self.spool.ids("pending") and not self.spool.holder(), timeout=timeout
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_standin(pipelines=[f"{ORG}/{PIPELINE}", f"{ORG}/special"]) as si:
        si.add_pipeline(ORG, "filtered", branches=["production"])
        w = World(tmp_path_factory.mktemp("bk-e2e"), si)
        try:
            yield w
        finally:
            si.clear_faults()
            w.drained()
            w.sshd.stop()


def git(work: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(work), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def clone_commit(
    c: SshClient,
    repo: str,
    work: Path,
    branch: str,
    message: str,
    author: tuple[str, str] = ("Ann", "ann@example.com"),
) -> str:
    if not work.exists():
        r = c.git("clone", "-q", c.url(repo), str(work))
        assert r.returncode == 0, r.stderr
    git(work, "checkout", "-q", "-B", branch)
    env = {**c.env(), "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
    git(work, "commit", "-q", "--allow-empty", "-m", message, env=env)
    return git(work, "rev-parse", "HEAD")


def builds_for(w: World, repo: str) -> list[dict]:
    return [b for b in w.si.builds() if b["meta_data"].get("gitolite_repo") == repo]


def test_push_creates_exactly_the_expected_builds(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    work = tmp_path / "foo"
    main = clone_commit(
        alice, "foo", work, "main", 'First "push"\n\nwith details', ("Zoë Q", "zoe@example.com")
    )
    topic = clone_commit(alice, "foo", work, "topic", "not built")
    rel = clone_commit(
        alice, "foo", work, "release/1", "release one", ("Rel Person", "rel@example.com")
    )
    r = alice.git("push", "-q", "origin", "main", "topic", "release/1", cwd=work)
    assert r.returncode == 0, r.stderr
    world.drained()
    got = {b["branch"]: b for b in builds_for(world, "foo")}
    assert sorted(got) == ["main", "release/1"]
    assert topic not in {b["commit"] for b in got.values()}
    assert (
        got["main"]["commit"] == main and got["main"]["message"] == 'First "push"\n\nwith details'
    )
    assert got["main"]["author"] == {"name": "Zoë Q", "email": "zoe@example.com"}
    assert got["release/1"]["commit"] == rel and got["release/1"]["author"]["name"] == "Rel Person"
    assert got["main"]["meta_data"]["gitolite_user"] == "alice"
    # both shipped registrations fired for this push; the spool made that one build per ref
    log = world.log()
    assert "trigger\tPOST_GIT\tgitolite_triggers.buildkite.trigger:main\texit=0" in log
    assert "trigger\tpost-receive\tgitolite_triggers.buildkite.trigger:main\texit=0" in log
    # a fetch builds nothing; a delete builds nothing
    n = len(world.si.builds())
    assert alice.git("fetch", "-q", "origin", cwd=work).returncode == 0
    assert alice.git("push", "-q", "origin", ":release/1", cwd=work).returncode == 0
    world.drained()
    assert len(world.si.builds()) == n


def test_rules_options_override_and_disable(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    clone_commit(alice, "special", tmp_path / "s", "main", "main of special")
    dev = clone_commit(alice, "special", tmp_path / "s", "dev", "dev of special")
    assert alice.git("push", "-q", "origin", "main", "dev", cwd=tmp_path / "s").returncode == 0
    clone_commit(alice, "quiet", tmp_path / "q", "main", "quiet main")
    assert alice.git("push", "-q", "origin", "main", cwd=tmp_path / "q").returncode == 0
    world.drained()
    special = world.si.builds(ORG, "special")
    assert [(b["branch"], b["commit"]) for b in special] == [("dev", dev)]
    assert builds_for(world, "quiet") == []


def test_outage_then_recovery_without_duplicates(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    si = world.si
    si.add_fault("status", status=503, times=2)
    si.add_fault("hang", seconds=30)
    si.add_fault("status_after_create", status=502)  # the build is made, the answer lost
    sha = clone_commit(alice, "apps/r1", tmp_path / "r1", "main", "during the outage")
    t = time.monotonic()
    r = alice.git("push", "-q", "origin", "main", cwd=tmp_path / "r1")
    push_time = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    assert push_time < 5  # the push never waits for Buildkite (hang + retries take longer)
    world.drained(timeout=40)
    got = builds_for(world, "apps/r1")
    assert [(b["branch"], b["commit"]) for b in got] == [("main", sha)]
    statuses = [
        e["status"] for e in si.received() if e["method"] == "POST" and e["body"]["commit"] == sha
    ]
    assert statuses[:2] == [503, 503] and statuses[2] in (None, "dropped") and statuses[3] == 502, (
        statuses
    )
    assert len(statuses) == 4  # after the lost 502 answer the lookup found the build: no 5th POST
    assert not si.faults  # every fault was used by this push
    assert "found the build an earlier attempt created" in world.log()


def test_429_is_waited_out(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    world.si.add_fault("rate_limit", seconds=1)
    sha = clone_commit(alice, "apps/r2", tmp_path / "r2", "main", "rate limited")
    assert alice.git("push", "-q", "origin", "main", cwd=tmp_path / "r2").returncode == 0
    world.drained()
    posts = [e for e in world.si.received() if e["method"] == "POST" and e["body"]["commit"] == sha]
    assert [e["status"] for e in posts] == [429, 201]
    assert posts[1]["time"] - posts[0]["time"] >= 1.0
    assert len(builds_for(world, "apps/r2")) == 1


def test_422_and_401_end_in_dead_letters_with_a_clear_log(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    sha = clone_commit(alice, "filtered", tmp_path / "f", "main", "filtered out")
    assert alice.git("push", "-q", "origin", "main", cwd=tmp_path / "f").returncode == 0
    world.drained()
    world.token_file.write_text("bkua_revoked_token\n")
    try:
        sha2 = clone_commit(alice, "apps/r3", tmp_path / "r3", "main", "bad token")
        assert alice.git("push", "-q", "origin", "main", cwd=tmp_path / "r3").returncode == 0
        world.drained()
    finally:
        world.token_file.write_text(TOKEN + "\n")
    dead = {r["new"]: r for r in world.spool.records("dead")}
    assert dead[sha]["dead"]["status"] == 422 and "filter condition" in dead[sha]["dead"]["body"]
    assert dead[sha2]["dead"]["status"] == 401
    lines = [ln for ln in world.log().splitlines() if "\tdead\t" in ln]
    assert any(sha in ln and "status=422" in ln and "filter condition" in ln for ln in lines)
    assert any(
        sha2 in ln and "status=401" in ln and "Authentication required" in ln for ln in lines
    )
    assert TOKEN not in world.log()
    # once the token is good again, retry delivers the 401 one
    r = world.server.cli("buildkite", "retry", dead[sha2]["id"])
    assert r.returncode == 0, r.stderr
    world.drained()
    assert [b["commit"] for b in builds_for(world, "apps/r3")] == [sha2]


def test_20_concurrent_pushes_to_5_repos_make_one_build_each(world: World, tmp_path: Path) -> None:
    clients = [world.client("alice"), world.client("bob")]
    jobs = []
    for i, repo in enumerate(APPS):
        work = tmp_path / f"c{i}"
        c = clients[i % 2]
        r = c.git("clone", "-q", c.url(repo), str(work))
        assert r.returncode == 0, r.stderr
        for j in range(4):
            sha = clone_commit(c, repo, work, f"release/c{j}", f"concurrent {repo} {j}")
            jobs.append((c, work, repo, f"release/c{j}", sha))
    before = Counter(b["meta_data"]["gitolite_repo"] for b in world.si.builds())
    results: list[int] = []

    def push(c: SshClient, work: Path, branch: str) -> None:
        results.append(c.git("push", "-q", "origin", branch, cwd=work, timeout=120).returncode)

    threads = [threading.Thread(target=push, args=(c, w, b)) for c, w, _, b, _ in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0] * 20
    world.drained(timeout=60)
    new = [b for b in world.si.builds() if b["branch"].startswith("release/c")]
    assert Counter(
        (b["meta_data"]["gitolite_repo"], b["branch"], b["commit"]) for b in new
    ) == Counter({(repo, branch, sha): 1 for _, _, repo, branch, sha in jobs})
    after = Counter(b["meta_data"]["gitolite_repo"] for b in world.si.builds())
    assert sum(after.values()) - sum(before.values()) == 20


def test_check_covers_rc_and_rules_pipelines(world: World) -> None:
    r = world.server.cli("buildkite", "check")
    assert r.returncode == 0, r.stdout
    assert "scopes: read_builds write_builds read_pipelines" in r.stdout
    for pipe, where in (
        (PIPELINE, "rc pipelines[0]"),
        ("special", "option buildkite.pipeline of special"),
        ("filtered", "option buildkite.pipeline of filtered"),
    ):
        assert f"ok   pipeline {ORG}/{pipe} ({where})" in r.stdout
