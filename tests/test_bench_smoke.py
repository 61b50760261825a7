"""The side-by-side benchmark (bench/run_vs_gitolite.py) works end to end in --quick mode.

It really sets up Debian's gitolite3 and gitolite-triggers in their own accounts behind
one private sshd, runs every measure on a small conf and writes the results; this test
checks that each measure produced figures for both systems and that the two agree on
every access answer. Needs root (accounts, sshd), as the benchmark itself does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MEASURES = {
    "compile, cold (creates the repos)",
    "compile, warm (one rule changed)",
    "POST_COMPILE (4 shipped programs)",
    "access: allowed",
    "access: denied",
    "access: ref-level",
    "access: missing-repo",
    "access: wild-create",
    "git ls-remote round trip",
    "wrapper overhead per fetch (ls-remote − floor)",
    "git clone",
    "git push (one small commit)",
    "trigger runner, per program (external)",
    "trigger runner, per program (in-process)",
}


@pytest.mark.timeout(120)
def test_quick_run_measures_both_systems(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "the benchmark creates accounts and runs sshd: run the tests as root"
    # The accounts must reach their homes: /tmp/pytest-of-root is 0700, so use /var/tmp.
    workdir = Path(tempfile.mkdtemp(prefix="glbench-smoke-", dir="/var/tmp"))
    out = tmp_path / "results"
    try:
        proc = subprocess.run(
            [sys.executable, str(REPO_ROOT / "bench" / "run_vs_gitolite.py"), "--quick", "--sizes", "20",
             "--workdir", str(workdir), "--out", str(out), "--stem", "smoke"],
            capture_output=True, text=True, timeout=110,
        )  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "sshd stopped" in proc.stdout

    data = json.loads((out / "smoke.json").read_text())
    rows = {row["measure"]: row for row in data["rows"]}
    assert MEASURES <= set(rows), MEASURES - set(rows)
    for name in MEASURES:
        row = rows[name]
        assert row["gitolite"] is not None and row["ours"] is not None, row
        assert row["reps"] >= 1, row
        # Differences can be noise-small, even negative in 3 quick runs: the per-program
        # runner deltas, and our wrapper overhead (ours minus the git-shell floor).
        if not name.startswith(("trigger runner", "wrapper overhead")):
            assert row["ratio"] is not None and row["ratio"] > 0, row
    for name in ("git ls-remote round trip", "git clone", "git push (one small commit)"):
        assert rows[name]["floor"] > 0, rows[name]
        assert rows[name]["gitolite"] > 0 and rows[name]["ours"] > 0
    for name in [m for m in MEASURES if m.startswith("access:")]:
        assert "UNEXPECTED" not in rows[name]["note"], rows[name]["note"]
        assert "on both" in rows[name]["note"], rows[name]["note"]

    table = (out / "smoke.md").read_text()
    assert "| measure | repos | gitolite | ours |" in table
    assert table.count("\n| ") >= len(MEASURES) + 1
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "smoke.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    sshd_pid = int(
        next(line.split()[2] for line in proc.stdout.splitlines() if line.startswith("sshd pid "))
    )
    assert (
        not Path(f"/proc/{sshd_pid}").exists()
        or "Z" in Path(f"/proc/{sshd_pid}/stat").read_text().split(") ", 1)[1][:1]
    )
