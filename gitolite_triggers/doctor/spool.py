"""doctor: Buildkite deliveries still pending or given up (dead letters)."""

from __future__ import annotations

import os
import time

from gitolite_triggers.doctor import Problem
from gitolite_triggers.rc import Rc

STUCK_AFTER = 600  # seconds a record may wait in pending/ before it is worth a look


def check(rc: Rc) -> list[Problem]:
    if not rc.buildkite:
        return []
    from gitolite_triggers.buildkite import config
    from gitolite_triggers.buildkite.spool import Spool

    spool = Spool(config.settings(rc).spool_dir)
    if not os.path.isdir(spool.root):
        return []
    out = []
    now = time.time()
    pending = spool.ids("pending")
    old = [rid for rid in pending if now - _mtime(spool.path("pending", rid)) > STUCK_AFTER]
    if old:
        out.append(
            Problem(
                f"{len(old)} Buildkite build(s) pending for more than {STUCK_AFTER // 60} "
                f"minutes ({len(pending)} pending in all)",
                "gitolite-triggers buildkite status; gitolite-triggers buildkite deliver",
            )
        )
    dead = spool.ids("dead")
    if dead:
        out.append(
            Problem(
                f"{len(dead)} Buildkite build(s) given up (dead letters)",
                "gitolite-triggers buildkite status; gitolite-triggers buildkite retry ID",
            )
        )
    return out


def _mtime(path: object) -> float:
    try:
        return os.stat(str(path)).st_mtime
    except OSError:
        return time.time()
