"""The lean launchers (ssh forced command, hook stubs): isolated, no `site`, no `re`.

They are what every fetch and push starts, so these tests run the real generated
scripts by their shebang, as sshd's shell and git do. What they may import is
tests/test_hot_path.py's one rule.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitolite_triggers import __version__, launcher, repos
from gitolite_triggers.rc import load_rc
from tests.support.server import Server


def shebang_flags(script: Path) -> list[str]:
    first = script.read_text().splitlines()[0]
    interpreter, flags = first[2:].split(" ", 1)
    assert interpreter == sys.executable
    return [flags]


@pytest.fixture
def compiled(server: Server) -> Server:
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text("repo foo\n    RW+ = alice\n")
    assert server.cli("compile").returncode == 0
    load_rc()  # the rc cache exists: only a stale cache may import YAML
    return server


def test_shell_launcher_runs_the_cli_isolated(compiled: Server, tmp_path: Path) -> None:
    script = Path(launcher.write_shell_launcher(str(compiled.admin_base)))
    assert os.access(script, os.X_OK)
    assert shebang_flags(script) == ["-IS"]
    # A PYTHONPATH with an impostor package is ignored (-I): the real CLI answers.
    impostor = tmp_path / "impostor" / "gitolite_triggers"
    impostor.mkdir(parents=True)
    (impostor / "__init__.py").write_text("raise SystemExit('impostor imported')\n")
    (impostor / "cli.py").write_text("def main(argv): print('impostor'); return 0\n")
    env = {**compiled.env, "PYTHONPATH": str(impostor.parent), "PYTHONSTARTUP": "/nonexistent"}
    r = subprocess.run([str(script), "--version"], env=env, capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, f"gitolite-triggers {__version__}\n"), r.stderr
    # ...and it serves ssh sessions, here a whole fetch of an empty repo.
    env["SSH_ORIGINAL_COMMAND"] = "git-upload-pack 'foo'"
    r = subprocess.run(
        [str(script), "shell", "alice"], env=env, input="0000", capture_output=True, text=True
    )
    assert (r.returncode, r.stdout) == (0, "0000"), r.stderr


def test_rewritten_only_when_changed(server: Server) -> None:
    path = launcher.write_shell_launcher(str(server.admin_base))
    before = os.stat(path).st_ino
    assert not launcher.write_if_changed(path, Path(path).read_text())
    assert os.stat(path).st_ino == before
    Path(path).write_text("#!/bin/sh\necho edited\n")
    assert launcher.write_shell_launcher(str(server.admin_base)) == path
    assert "gitolite-triggers launcher" in Path(path).read_text()
    assert os.stat(path).st_mode & 0o777 == 0o755


def test_hook_stub_is_a_launcher(server: Server) -> None:
    rc = load_rc()
    folder = repos.write_common_hooks(rc)
    for hook in repos.HOOK_NAMES:
        stub = folder / hook
        assert shebang_flags(stub) == ["-IS"] and os.access(stub, os.X_OK)
        assert f"main({hook!r}, sys.argv[1:])" in stub.read_text()


def test_stale_import_path_says_what_to_do(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A venv moved after setup: the launcher names the fix instead of a bare traceback."""
    monkeypatch.setattr(launcher, "import_path", lambda: [str(server.home / "moved-away")])
    path = server.home / "stale"
    launcher.write_if_changed(str(path), launcher.render("gitolite_triggers.cli", "main([])", "t"))
    r = subprocess.run([str(path)], env=server.env, capture_output=True, text=True)
    assert r.returncode == 1
    assert "cannot be imported" in r.stderr and "Run 'gitolite-triggers setup' again" in r.stderr
    assert "Traceback" not in r.stderr
