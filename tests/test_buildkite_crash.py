"""kill -9 of the deliverer at any point loses nothing and duplicates nothing.

The deliverer runs as its own process (as in production) and is SIGKILLed either at a
named point (GITOLITE_TRIGGERS_BK_CRASH_AT: the process kills itself with SIGKILL there)
or at random moments while requests are in flight; a plain run afterwards must leave
exactly one build per spooled (repo, ref, commit) and nothing pending.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from gitolite_triggers.buildkite.deliver import CRASH_ENV
from gitolite_triggers.buildkite.spool import Spool
from gitolite_triggers.rc import load_rc
from gitolite_triggers.repos import init_bare
from tests.support.standin import TOKEN, WorkTree, bk_rc, running_standin, wait_until

BRANCHES = ["main", "release/a", "release/b", "release/c"]


@pytest.fixture
def spooled(server, tmp_path):
    with running_standin() as si:
        server.write_rc(bk_rc(si.api_url, extra="  autostart: false\n"))
        repo = init_bare(load_rc(), "foo")
        wt = WorkTree(tmp_path / "wt", server.env)
        shas = {}
        for b in BRANCHES:
            wt.git("checkout", "-q", "-B", b)
            shas[b] = wt.commit(f"on {b}")
        assert wt.push(repo, *BRANCHES).returncode == 0
        spool = Spool(server.admin_base / "buildkite")
        assert len(spool.ids("pending")) == len(BRANCHES)
        yield server, si, spool, shas


def start(server, crash_at: str | None = None) -> subprocess.Popen:
    env = {**server.env, "BUILDKITE_API_TOKEN": TOKEN}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "gitolite_triggers.buildkite.deliver"],
        env=env,
        stdin=subprocess.DEVNULL,
    )


def settle(si) -> None:
    """Let requests the dead process left in flight finish on the server side."""
    wait_until(lambda: all(e["status"] is not None for e in si.received()), timeout=10)


def assert_exactly_once(si, spool, shas) -> None:
    builds = si.builds()
    counts = Counter((b["branch"], b["commit"]) for b in builds)
    assert counts == Counter({(b, s): 1 for b, s in shas.items()}), counts
    assert spool.ids("pending") == [] and spool.ids("dead") == []
    assert sorted(spool.ids("done")) == sorted(r["id"] for r in spool.records("done"))
    assert len(spool.ids("done")) == len(shas)


@pytest.mark.parametrize("point", ["before_post", "after_post", "before_done", "after_done_write"])
def test_kill_at_each_point(spooled, point):
    server, si, spool, shas = spooled
    p = start(server, point)
    assert p.wait(timeout=20) == -signal.SIGKILL
    settle(si)
    assert len(set(spool.ids("pending")) | set(spool.ids("done"))) == len(shas)  # nothing lost
    p = start(server)
    assert p.wait(timeout=30) == 0
    assert_exactly_once(si, spool, shas)
    if point in ("after_post", "before_done"):
        # the build existed but the crash came before we noted it: found, not re-created
        assert len([e for e in si.received() if e["method"] == "POST"]) == len(shas)


def test_kill_at_random_moments(spooled):
    server, si, spool, shas = spooled
    si.add_fault("slow", seconds=0.15, times=1000)
    rng = random.Random(5)
    kills = 0
    for _ in range(8):
        if not spool.ids("pending"):
            break
        p = start(server)
        time.sleep(rng.uniform(0.05, 0.5))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait(timeout=10)
        settle(si)
    assert kills >= 1
    si.clear_faults()
    p = start(server)
    assert p.wait(timeout=30) == 0
    assert_exactly_once(si, spool, shas)


def test_second_deliverer_waits_its_turn(spooled):
    server, si, spool, shas = spooled
    si.add_fault("slow", seconds=0.3, times=len(shas))
    first = start(server)
    wait_until(lambda: spool.holder())
    second = start(server)
    assert second.wait(timeout=10) == 3  # the lock is held: it leaves the work to the first
    assert first.wait(timeout=30) == 0
    assert_exactly_once(si, spool, shas)
