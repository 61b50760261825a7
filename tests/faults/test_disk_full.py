"""Disk full at every write of an admin push: a 4 MiB tmpfs as HOME, filled to a ladder of
free-space levels. At each level the promise holds (refused and nothing changed, the pusher
told "no space"; or accepted and all in force), and freeing space then pushing converges."""

from __future__ import annotations

import os
from pathlib import Path

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

# KiB left free before the push. tmpfs hands out 4 KiB pages, so these land the failure
# on different writes: git's own objects/ref (0-4), the staged checkout and store (8-24),
# a new repo's files (24-96), authorized_keys, the lists and configs (96+).
SHORT = [0, 4, 24, 48, 96, 192, 384]
LADDER = SHORT + (
    [8, 12, 16, 32, 40, 64, 80, 112, 128, 144, 160, 176, 224, 256, 288, 320, 448, 512]
    if LONG
    else []
)

FILLER = ".filler"


def fill_to(home: Path, free_kib: int) -> None:
    """Leave ``free_kib`` KiB free on the filesystem of ``home``."""
    filler = home / FILLER
    filler.unlink(missing_ok=True)
    st = os.statvfs(home)
    want = st.f_bavail * st.f_frsize - free_kib * 1024
    with open(filler, "wb") as f:
        chunk = b"\0" * 65536
        while want > 0:
            try:
                want -= f.write(chunk[: min(len(chunk), want)])
                f.flush()
            except OSError:
                break


def test_disk_full_ladder(tmpfs: Path, tmp_path: Path) -> None:
    world: World = make_world(tmpfs / "home", tmp_path)
    held = {"refused": 0, "accepted": 0}
    for level in sorted(LADDER):
        tag = f"d{level}"
        commit = world.new_commit(tag)
        before_tip, before = world.tip(), live_state(world.server)
        fill_to(world.server.home, level)
        r = world.push()
        (world.server.home / FILLER).unlink()
        if world.tip() == before_tip:  # refused: nothing changed, the real cause told
            held["refused"] += 1
            assert r.returncode != 0
            assert "no space" in r.stderr.lower(), r.stderr
            assert live_state(world.server) == before, f"level {level}: refused but changed"
            assert drift(world.server) is None
        else:  # accepted: everything in force
            held["accepted"] += 1
            assert r.returncode == 0, r.stderr
            assert_in_force(world, tag, commit)
        # space is back: the same commit pushes (or is already) in force
        r = world.push()
        assert r.returncode == 0, f"level {level}: {r.stderr}"
        assert_in_force(world, tag, commit)
        assert leftovers(world.server) == [], level  # no temp file or stage outlives a push
    assert held["refused"] >= 2, held  # the ladder reached the admin push's own writes
    log_lines_whole(world.server)
    print(f"disk-full ladder: {len(LADDER)} levels, {held}")
