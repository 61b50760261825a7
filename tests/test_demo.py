"""The README's main command: the demo runs the whole path and a build arrives."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.server import Server


def test_demo_pushes_fires_triggers_and_creates_one_build(server: Server) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "demo"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    # The triggers fired with the contract's argv on alice's push.
    assert "argv=['PRE_GIT', 'demo', 'alice', 'W', 'any', 'git-receive-pack']" in out
    assert "argv=['ACCESS_CHECK', 'demo', 'alice', 'W', 'refs/heads/main', 'refs/.*']" in out
    assert re.search(
        r"argv=\['POST_GIT', 'demo', 'alice', 'W', 'any', 'git-receive-pack'(, '\d+\.\d+'){4}\]",
        out,
    )
    assert "argv=['POST_COMPILE']" in out
    # The hostile requests: one FATAL line each, nothing about the server's insides.
    assert "FATAL: invalid repo name: 'demo/.' (contains a '.' path segment)" in out
    assert "FATAL: invalid repo name: 'demo;touch${IFS}/tmp/x'" in out
    hostile = out.split("Hostile requests")[1].split("The build arrives")[0]
    assert "Traceback" not in hostile and "/.gitolite" not in hostile
    # Exactly one build, for the pushed commit, with the quotes in its message intact.
    m = re.search(
        r"Done: one push, triggers fired, build #(\d+) created for ([0-9a-f]{12}) on main", out
    )
    assert m and m.group(1) == "1"
    assert '"message": "First commit: \\"hello, Buildkite\\""' in out
    assert '"commit": "' + m.group(2) in out
