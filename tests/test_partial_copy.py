"""partial-copy (t/partial-copy.t): a copy showing a user only the branches they may read of
its main repo (PRE_GIT sync), and pushes to it made in the main repo first (the VREF)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.pushside import Side, ours
from tests.support.server import Server
from tests.test_vref_push import compile_conf

CONF = """
repo foo
    RW+ = u1
repo foo-pc
    - secret$ = u4
    R = u4
    RW next = u4
    - VREF/partial-copy = @all
    config gitolite.partialCopyOf = foo
"""


def _read_via_shell(server: Server, user: str, repo: str) -> subprocess.CompletedProcess[str]:
    """A real git-upload-pack session through the forced command (PRE_GIT fires first)."""
    return server.cli(
        "shell", user, extra_env={"SSH_ORIGINAL_COMMAND": f"git-upload-pack '{repo}'"}, input=""
    )


def _refs(server: Server, repo: str) -> dict[str, str]:
    out = subprocess.run(
        [
            "git",
            "--git-dir",
            str(server.repo_base / f"{repo}.git"),
            "for-each-ref",
            "--format=%(refname) %(objectname)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=server.env,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def _setup(server: Server, tmp_path: Path) -> tuple[Side, dict[str, str]]:
    server.write_rc("GIT_CONFIG_KEYS: '.*'\nPRE_GIT:\n  - partial-copy\n", name="50-pc.yaml")
    compile_conf(server, CONF)
    assert server.cli("trigger", "POST_COMPILE").returncode == 0  # the repos' git configs
    side = ours(server, tmp_path / "work")
    made = {"master": side.commit("foo", {"a": b"1"})}
    assert side.push("foo", "u1", "HEAD:master").returncode == 0
    made["next"] = side.commit("foo", {"n": b"1"})
    assert side.push("foo", "u1", "HEAD:next").returncode == 0
    made["secret"] = side.commit("foo", {"s": b"secret"})
    side.run_git("foo", "tag", "st")
    assert side.push("foo", "u1", "HEAD:secret").returncode == 0
    assert side.push("foo", "u1", "refs/tags/st:refs/tags/st").returncode == 0
    return side, made


def test_sync_copies_only_what_the_user_may_read(server: Server, tmp_path: Path) -> None:
    _, made = _setup(server, tmp_path)
    r = _read_via_shell(server, "u4", "foo-pc")
    assert "[new branch]" in r.stderr and "secret" not in r.stderr, r.stderr
    refs = _refs(server, "foo-pc")
    assert refs == {"refs/heads/master": made["master"], "refs/heads/next": made["next"]}
    # a branch the user may not read is removed again, with the tags only it reached
    subprocess.run(
        [
            "git",
            "--git-dir",
            str(server.repo_base / "foo-pc.git"),
            "fetch",
            "-q",
            str(server.repo_base / "foo.git"),
            "refs/heads/secret:refs/heads/secret",
            "refs/tags/st:refs/tags/st",
        ],
        check=True,
        env=server.env,
        capture_output=True,
    )
    _read_via_shell(server, "u4", "foo-pc")
    assert set(_refs(server, "foo-pc")) == {"refs/heads/master", "refs/heads/next"}


def test_a_push_to_the_copy_is_made_in_main_first(server: Server, tmp_path: Path) -> None:
    side, made = _setup(server, tmp_path)
    _read_via_shell(server, "u4", "foo-pc")
    side.run_git("foo-pc", "fetch", "-q", "origin", "next")
    side.reset("foo-pc", "FETCH_HEAD")
    new = side.commit("foo-pc", {"n": b"2"})
    p = side.push("foo-pc", "u4", "HEAD:next")
    assert p.returncode == 0, p.stderr
    assert _refs(server, "foo")["refs/heads/next"] == new
    assert _refs(server, "foo-pc")["refs/heads/next"] == new
    subprocess.run(  # main holds the objects itself, not through the copy
        ["git", "--git-dir", str(server.repo_base / "foo.git"), "fsck", "--connectivity-only"],
        check=True,
        env=server.env,
        capture_output=True,
    )
    # no right on master in the copy: refused, main untouched
    assert side.push("foo-pc", "u4", "HEAD:master").returncode != 0
    assert _refs(server, "foo")["refs/heads/master"] == made["master"]
    # main's next moved meanwhile: the copy's push is refused, no update lost
    side.run_git("foo", "fetch", "-q", "origin", "next")
    side.reset("foo", "FETCH_HEAD")
    moved = side.commit("foo", {"m": b"main"})
    assert side.push("foo", "u1", "HEAD:next").returncode == 0
    side.commit("foo-pc", {"n": b"3"})
    p = side.push("foo-pc", "u4", "HEAD:next")
    assert p.returncode != 0 and "partial-copy: failed to send refs/heads/next" in p.stderr
    assert _refs(server, "foo")["refs/heads/next"] == moved
    assert _refs(server, "foo-pc")["refs/heads/next"] == new


def test_rc_import_of_enabled_partial_copy(server: Server) -> None:
    """t/partial-copy.t un-comments 'partial-copy' in the Perl rc's ENABLE list."""
    perl_rc = server.home / ".gitolite.rc"
    perl_rc.write_text("%RC = (ENABLE => ['help', 'partial-copy']);\n1;\n")
    r = server.cli("rc", "import", "-q", str(perl_rc))
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.cli("rc", "show", "PRE_GIT").stdout.count("partial-copy") == 1
