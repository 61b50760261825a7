"""gitolite's own t/ suite through our stand-ins (bench/gitolite_suite/): the short CI run.

One small file, t/0-me-first.t (71 assertions, ~10 s), run unchanged in a fresh HOME as
the calling user (``--as-me``). The long run (every t/*.t, ours and gitolite's, as
throwaway system accounts) is documented in bench/gitolite_suite/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path("/work/.mirror/sitaramc+gitolite/repo")


def test_me_first_through_our_standins(tmp_path: Path) -> None:
    if not SNAPSHOT.is_dir():
        pytest.fail(
            f"gitolite's snapshot is needed at {SNAPSHOT} (or pass --snapshot)", pytrace=False
        )
    out = tmp_path / "r.json"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "gitolite_suite" / "run.py"),
            "--impl",
            "ours",
            "--as-me",
            "--workdir",
            str(tmp_path / "w"),
            "--json",
            str(out),
            "t/0-me-first.t",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (row,) = json.loads(out.read_text())["files"]
    assert row["planned"] == 71
    assert row["passed"] == 71, row["failing"]
    wheres = " ".join(f["where"] for f in row["failing"])
    assert "aa.git" not in wheres  # "Initialized empty Git repository in .../aa.git/"
    assert "Cloning into 'u1aa'" not in wheres
