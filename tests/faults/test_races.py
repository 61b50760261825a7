"""Races: two admins pushing at once, an admin push during 50 concurrent fetches and pushes,
``compile`` by hand during an admin push, ``setup`` during traffic. No answer from a
half-written state, no lost update, every log line whole."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.faults.conftest import LONG, World, assert_in_force, drift, log_lines_whole, make_world
from tests.support.adminrepo import clone_admin, commit_all, git

ROUNDS = 12 if LONG else 3
pytestmark = pytest.mark.usefixtures("fault_flag")  # GL_FAULT_LOCK_WAIT below
TRAFFIC = 50


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = make_world(tmp_path / "home", tmp_path)
    conf = w.admin / "conf" / "gitolite.conf"
    conf.write_text(conf.read_text() + "\nrepo busy\n    RW+ = @all\n")
    commit_all(w.admin, w.server.env, "busy")
    assert w.push().returncode == 0
    return w


def _cli(
    world: World, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", *args],
        env={**world.server.env, **(env or {})},
        cwd=world.server.home,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _user_op(world: World, work: Path, i: int) -> subprocess.CompletedProcess[str]:
    """A user's fetch (even i) or push to its own branch (odd i) of ``busy``, as the hooks see it."""
    env = {**world.server.env, "GL_USER": f"user{i}", "GL_REPO": "busy"}
    if i % 2 == 0:
        return git(work, "fetch", "-q", "origin", env=env, check=False)
    return git(work, "push", "-q", "origin", f"HEAD:refs/heads/u{i}", env=env, check=False)


def _user_clone(world: World, tmp_path: Path) -> Path:
    work = tmp_path / "busy"
    git(
        tmp_path,
        "clone",
        "-q",
        str(world.server.repo_base / "busy.git"),
        str(work),
        env=world.server.env,
    )
    (work / "f").write_text("x\n")
    commit_all(work, world.server.env, "one")
    return work


def test_two_admins_push_different_commits_at_once(world: World, tmp_path: Path) -> None:
    other = clone_admin(world.server, tmp_path / "admin2")
    for n in range(ROUNDS):
        git(other, "pull", "-q", "origin", "master", env=world.server.env)
        a = world.new_commit(f"a{n}")
        b = World(world.server, other, world.keys).new_commit(f"b{n}")
        with ThreadPoolExecutor(2) as pool:
            ra, rb = pool.map(lambda w: w.push(), [world, World(world.server, other, world.keys)])
        tip = world.tip()
        assert tip in (a, b)
        won, lost, rl = (f"a{n}", f"b{n}", rb) if tip == a else (f"b{n}", f"a{n}", ra)
        assert rl.returncode != 0  # the other was refused by git (not a fast-forward) ...
        assert not (world.server.repo_base / f"r{lost}.git").exists()  # ... and changed nothing
        assert_in_force(world, won, tip)  # no lost update of the winner
        # both clones go on from the winner
        for work in (world.admin, other):
            git(work, "fetch", "-q", "origin", env=world.server.env)
            git(work, "reset", "-q", "--hard", "origin/master", env=world.server.env)
    log_lines_whole(world.server)


def test_admin_push_during_50_fetches_and_pushes(world: World, tmp_path: Path) -> None:
    work = _user_clone(world, tmp_path)
    commit = world.new_commit("t")
    # the access answers asked meanwhile must be the old rules' or the new ones', whole
    with ThreadPoolExecutor(TRAFFIC + 2) as pool:
        users = [pool.submit(_user_op, world, work, i) for i in range(TRAFFIC)]
        admin = pool.submit(world.push)
        checks = [
            pool.submit(_cli, world, "access", "-q", "rt", "ut", "W", "any") for _ in range(10)
        ]
        results = [f.result() for f in users]
        r_admin = admin.result()
        answers = [f.result() for f in checks]
    assert r_admin.returncode == 0, r_admin.stderr
    for i, r in enumerate(results):
        assert r.returncode == 0, f"user op {i}: {r.stderr}"
    for r in answers:
        assert r.returncode in (0, 1) and not r.stderr.strip(), (
            r.stderr
        )  # granted or denied, no error
    assert_in_force(world, "t", commit)
    assert log_lines_whole(world.server) > TRAFFIC


def test_compile_by_hand_during_an_admin_push(world: World) -> None:
    for n in range(ROUNDS):
        commit = world.new_commit(f"c{n}")
        with ThreadPoolExecutor(4) as pool:
            push = pool.submit(world.push)
            compiles = [pool.submit(_cli, world, "compile") for _ in range(3)]
            assert push.result().returncode == 0, push.result().stderr
            for c in compiles:
                assert c.result().returncode == 0, c.result().stderr
        assert drift(world.server) is None
        assert_in_force(world, f"c{n}", commit)
    log_lines_whole(world.server)


def test_setup_during_traffic(world: World, tmp_path: Path) -> None:
    work = _user_clone(world, tmp_path)
    with ThreadPoolExecutor(22) as pool:
        users = [pool.submit(_user_op, world, work, i) for i in range(20)]
        setups = [pool.submit(_cli, world, "setup") for _ in range(2)]
        for f in users:
            assert f.result().returncode == 0, f.result().stderr
        for f in setups:
            assert f.result().returncode == 0, f.result().stdout + f.result().stderr
    assert drift(world.server) is None
    log_lines_whole(world.server)


def test_admin_push_while_another_holds_the_lock(world: World) -> None:
    """A push that cannot get the admin lock in time is refused, says why, changes nothing."""
    import fcntl

    from tests.faults.conftest import live_state

    commit = world.new_commit("l")
    before = live_state(world.server)
    lock = world.server.repo_base / "gitolite-admin.git" / "gl-admin-push.lock"
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        r = world.push({"GL_FAULT_LOCK_WAIT": "0.5"})
    assert r.returncode != 0 and "another admin push is being applied" in r.stderr, r.stderr
    assert world.tip() != commit and live_state(world.server) == before
    assert world.push().returncode == 0
    assert_in_force(world, "l", commit)
