"""kill -9 of the admin push at each of its steps, and of compile, setup and the updaters.

The kill comes from the process itself at a named step (gitolite_triggers/faults.py:
GL_FAULT, armed only by the root-owned flag file the ``fault_flag`` fixture makes). After
each kill the promise holds: the push was refused and nothing changed, or it was accepted
and either all of it is in force or the drift record says it is not (what ``doctor``
shows); the next push or ``compile`` converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.conftest import (
    LONG,
    World,
    assert_in_force,
    drift,
    leftovers,
    live_state,
    log_lines_whole,
    make_world,
)
from tests.support.adminkeys import key_blob, make_key

# The admin push's steps: pre-receive (stage:*, repo:built, store:write), post-update
# (commit:* between renames, after:* once live).
PUSH_POINTS = [
    "stage:start",
    "stage:checkout",
    "repo:built",
    "store:write",
    "stage:compiled",
    "stage:builtins",
    "stage:saved",
    "commit:start",
    "commit:op:0",
    "commit:op:2",
    "commit:op:4",
    "commit:op:8",
    "commit:done",
    "after:start",
    "after:post_compile",
]
if LONG:
    PUSH_POINTS += [f"commit:op:{n}" for n in (1, 3, 5, 6, 7, 9, 10, 11, 12, 14, 16, 20, 24)]

pytestmark = pytest.mark.usefixtures("fault_flag")


def last_good(world: World) -> str:
    return (world.server.repo_base / "gitolite-admin.git" / "gl-last-good").read_text().strip()


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "home", tmp_path)


def test_kill_admin_push_at_each_step(world: World) -> None:
    survived = 0
    for n, point in enumerate(PUSH_POINTS):
        tag = f"k{n}"
        commit = world.new_commit(tag)
        before_tip, before = world.tip(), live_state(world.server)
        world.push({"GL_FAULT": point})
        if world.tip() == before_tip:  # killed before the ref moved: refused, nothing changed
            assert point.startswith(("stage:", "repo:", "store:")), point
            assert live_state(world.server) == before, point
            assert drift(world.server) is None, point
            r = world.push()  # the same commit again, nothing in the way
            assert r.returncode == 0, f"{point}: {r.stderr}"
        else:  # accepted: all in force, or the drift record says what is not
            assert not point.startswith("stage:"), point
            if drift(world.server) is None and last_good(world) == commit:
                assert_in_force(world, tag, commit)  # "in force" is exactly these two
            r = world.server.cli("compile")  # the repair doctor names
            assert r.returncode == 0, f"{point}: {r.stdout}{r.stderr}"
        assert_in_force(world, tag, commit)
        assert leftovers(world.server) == [], point  # the converging run swept them
        survived += 1
    log_lines_whole(world.server)
    print(f"admin push kills survived: {survived}/{len(PUSH_POINTS)}")


COMPILE_POINTS = ["commit:op:3", "after:start"] + (["commit:op:1", "commit:done"] if LONG else [])
SETUP_POINTS = ["setup:committed", "repo:built", "authkeys:staged"] + (
    ["configs:staged"] if LONG else []
)


@pytest.mark.parametrize("point", COMPILE_POINTS)
def test_kill_compile_while_it_converges(world: World, point: str) -> None:
    """A push killed after the ref moved, then ``compile`` killed too: the next one converges."""
    commit = world.new_commit("c")
    world.push({"GL_FAULT": "commit:start"})
    assert world.tip() == commit and last_good(world) != commit
    env = {**world.server.env, "GL_FAULT": point}
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "compile"],
        env=env,
        cwd=world.server.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == -9, r.stderr  # it really was killed there
    assert drift(world.server) is not None or last_good(world) != commit  # still named as drift
    r = world.server.cli("compile")
    assert r.returncode == 0, r.stderr
    assert_in_force(world, "c", commit)


@pytest.mark.parametrize(
    "point", ["setup:committed", "repo:built", "authkeys:staged", "configs:staged"]
)
def test_kill_setup_then_setup_converges(world: World, tmp_path: Path, point: str) -> None:
    """setup -pk (the admin's key recovery) killed at a step; running it again converges."""
    import subprocess
    import sys

    s = world.server
    (s.admin_base / "conf" / "gitolite.conf").write_text(
        (s.admin_base / "conf" / "gitolite.conf").read_text()
        + "\nrepo fresh\n    RW+ = admin\n    config hooks.x = 1\n"
    )
    new_key = make_key(tmp_path / "k2", "admin")
    args = [sys.executable, "-m", "gitolite_triggers", "setup", "-pk", str(new_key)]
    r = subprocess.run(
        args,
        env={**s.env, "GL_FAULT": point},
        cwd=s.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == -9, r.stdout + r.stderr
    ak = (s.home / ".ssh" / "authorized_keys").read_text()
    assert ak.endswith("# gitolite-triggers end\n")  # whole, old or new
    assert (
        not list((s.repo_base).glob("*.lock"))
        and not (s.repo_base / "testing.git" / "config.lock").exists()
    )
    r = s.cli("setup", "-pk", str(new_key))
    assert r.returncode == 0, r.stdout + r.stderr
    assert key_blob(new_key) in (s.home / ".ssh" / "authorized_keys").read_text()
    assert (s.repo_base / "fresh.git" / "hooks" / "update").is_symlink()
    assert s.cli("access", "-q", "fresh", "admin", "W", "any").returncode == 0


@pytest.mark.parametrize("point", ["authkeys:staged", "configs:staged"])
def test_kill_updaters_by_hand(world: World, point: str) -> None:
    """``trigger POST_COMPILE`` killed inside an updater: old files whole, no lock left, rerun fixes."""
    import subprocess
    import sys

    s = world.server
    commit = world.new_commit("u")
    assert world.push().returncode == 0
    ak = s.home / ".ssh" / "authorized_keys"
    ak.write_text(ak.read_text().replace('shell uu"', 'shell nobody"'))  # drift by hand
    cfg = s.repo_base / "testing.git" / "config"
    cfg.write_text(cfg.read_text().replace("last = u", "last = old"))
    r = subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "trigger", "POST_COMPILE"],
        env={**s.env, "GL_FAULT": point},
        cwd=s.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == -9, r.stderr
    assert ak.read_text().endswith("# gitolite-triggers end\n")
    assert not (s.repo_base / "testing.git" / "config.lock").exists()
    r = s.cli("trigger", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    assert_in_force(world, "u", commit)
