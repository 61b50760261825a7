"""The ssh wrapper's sessions, run in a real subprocess as the console script runs them.

A tiny harness runs ``gitolite-triggers shell alice`` and dumps ``sys.modules`` when it is
done, for a command (``help``), a refused command, and a git request that goes through the
access check. What the hot path may import is tests/test_hot_path.py's one rule; the time
of a ``help`` session is printed for information.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitolite_triggers.rc import load_rc
from tests.support.server import Server

HARNESS = """
import json, sys
from gitolite_triggers.cli import main
try:
    code = main(["shell", "alice"])
finally:
    with open(sys.argv[1], "w") as f:
        json.dump(sorted(sys.modules), f)
sys.exit(code)
"""


def run_shell(
    server: Server, soc: str, out: Path, stdin: str | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {**server.env, "SSH_ORIGINAL_COMMAND": soc}
    proc = subprocess.run(
        [sys.executable, "-c", HARNESS, str(out)],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        cwd=server.home,
    )
    return proc, set(json.loads(out.read_text()))


@pytest.mark.parametrize("soc", ["help", "rm -rf /", "git-upload-pack 'no/such/repo'"])
def test_sessions_answer_and_refuse(server: Server, soc: str, tmp_path: Path) -> None:
    load_rc()  # build the rc cache first: only a stale cache may import YAML
    started = time.monotonic()
    proc, mods = run_shell(server, soc, tmp_path / "mods.json")
    print(f"{soc!r}: {1000 * (time.monotonic() - started):.0f} ms")
    assert "gitolite_triggers.shell.wrapper" in mods, proc.stderr[-2000:]
    if soc == "help":
        assert proc.returncode == 0 and proc.stdout.startswith("hello alice")
    else:
        assert proc.returncode != 0 and "FATAL:" in proc.stderr
        assert "Traceback" not in proc.stderr
    if soc.startswith("git-"):
        assert "gitolite_triggers.conf.query" in mods  # the access check really ran


def test_full_git_session(server: Server, tmp_path: Path) -> None:
    """A whole allowed session: access, ACCESS_CHECK, PRE_GIT, git-upload-pack (the client
    says "done" with a flush packet), POST_GIT with the shipped in-process programs, END."""
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text("repo foo\n    RW+ = alice\n")
    assert server.cli("compile").returncode == 0
    load_rc()
    proc, mods = run_shell(server, "git-upload-pack 'foo'", tmp_path / "mods.json", stdin="0000")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "0000"  # the empty repo's advertisement, nothing else on the stream
    assert "gitolite_triggers.conf.query" in mods
    log = server.log_text()
    assert "\tpre_git\tfoo\talice\tR\tany\t" in log and log.rstrip().endswith("\tEND")
