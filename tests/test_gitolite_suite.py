"""gitolite's own t/ suite through our stand-ins (bench/gitolite_suite/): the short CI run.

Two small files, t/0-me-first.t (71 assertions, ~10 s) and t/easy.t (98, ~5 s: the
harness's Load.pm stand-in), run unchanged in a fresh HOME as the calling user (``--as-me``). The long run (every t/*.t, ours and gitolite's, as
throwaway system accounts) is documented in bench/gitolite_suite/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Without a local snapshot (a CI machine) run.py takes the suite from Debian's signed
# gitolite3 source package (bench/gitolite_suite/source.py).


def _run(tmp_path: Path, test: str) -> dict[str, object]:
    """One t/ file through the harness as the calling user; its result row."""
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
            test,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (row,) = json.loads(out.read_text())["files"]
    assert isinstance(row, dict)
    return row


def test_me_first_through_our_standins(tmp_path: Path) -> None:
    row = _run(tmp_path, "t/0-me-first.t")
    assert row["planned"] == 71
    assert row["passed"] == 71, row["failing"]
    wheres = " ".join(f["where"] for f in row["failing"])
    assert "aa.git" not in wheres  # "Initialized empty Git repository in .../aa.git/"
    assert "Cloning into 'u1aa'" not in wheres


def test_easy_through_the_load_standin(tmp_path: Path) -> None:
    """t/easy.t calls gitolite's Perl Gitolite::Easy in-process; the harness's Load.pm
    answers its access/git_config/creator/list_memberships calls with our commands."""
    row = _run(tmp_path, "t/easy.t")
    assert (row["planned"], row["passed"]) == (98, 98), row
