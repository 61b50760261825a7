"""bench/bench_keys.py works end to end in --short mode (10 and 1,000 keys, a few seconds):
real POST_COMPILE, the lean lookup, a real sshd both ways (scan and index)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="the benchmark needs root (sshd, /run)")
def test_short_mode_measures_both_ways(tmp_path: Path) -> None:
    out = tmp_path / "keys.md"
    r = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "bench_keys.py"), "--short", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    rows = [ln for ln in out.read_text().splitlines() if ln.startswith("| 1")]
    assert [row.split("|")[1].strip() for row in rows] == ["10", "1,000"]
    for row in rows:
        assert row.count(" ms ") >= 5 and row.rstrip().endswith(" MB |")
    assert "| index |" in out.read_text() and "| scan |" in out.read_text()  # the burst
