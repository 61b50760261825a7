"""Which hooks a repo gets: update and post-receive always, pre-receive/post-update on demand."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.adminkeys import make_key
from tests.support.adminrepo import git, push_as
from tests.support.server import Server

RECORDER = f"#!{sys.executable}\nimport os, sys\nopen(os.environ['HOOK_LOG'], 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"


def hook_names(server: Server, repo: str) -> set[str]:
    return {p.name for p in (server.repo_base / f"{repo}.git" / "hooks").iterdir()}


def test_links_follow_the_rc_on_setup_and_on_the_next_push(server: Server, tmp_path: Path) -> None:
    pub = make_key(tmp_path / "keys", "admin")
    assert server.cli("setup", "--pubkey", str(pub)).returncode == 0
    assert hook_names(server, "testing") == {"update", "post-receive"}
    assert hook_names(server, "gitolite-admin") == {
        "update",
        "post-receive",
        "pre-receive",
        "post-update",
    }

    prog = tmp_path / "rec"
    prog.write_text(RECORDER)
    prog.chmod(0o755)
    server.env["HOOK_LOG"] = str(tmp_path / "hook.log")
    server.write_rc(
        f"hooks:\n  pre-receive: [{prog} pre]\n  post-update: [{prog} post]\n", name="50-hooks.yaml"
    )

    # The next push brings the repo in line (its update hook re-links) ...
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(server.repo_base / "testing.git"), str(work), env=server.env)
    git(work, "commit", "-q", "--allow-empty", "-m", "one", env=server.env)
    assert (
        push_as(server, work, "admin", repo="testing", refspec="HEAD:refs/heads/main").returncode
        == 0
    )
    assert hook_names(server, "testing") == {"update", "post-receive", "pre-receive", "post-update"}
    # ... and from then on the programs run with git's own interface.
    git(work, "commit", "-q", "--allow-empty", "-m", "two", env=server.env)
    assert (
        push_as(server, work, "admin", repo="testing", refspec="HEAD:refs/heads/main").returncode
        == 0
    )
    log = (tmp_path / "hook.log").read_text().splitlines()
    assert log[-2] == "pre" and log[-1] == "post refs/heads/main"

    # Dropping them from the rc drops the links again (setup does every repo at once).
    (server.rc_d / "50-hooks.yaml").unlink()
    assert server.cli("setup").returncode == 0
    assert hook_names(server, "testing") == {"update", "post-receive"}
    assert "post-update" in hook_names(server, "gitolite-admin")
