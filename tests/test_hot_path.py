"""The speed rule, as one test: what the hot path must never import.

Every fetch starts the forced command and every push starts the hooks, so their Python
start-up is paid per git operation (docs/architecture.md, "The two rules"). Each entry
point below runs through the real lean launchers (``python -IS``, launcher.py) with
``-X importtime``, and what it imported is checked against the one list, HOT_PATH_NEVER.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitolite_triggers import launcher, repos
from gitolite_triggers.rc import load_rc
from tests.support.server import Server

# Modules (top-level names) no hot-path entry point may import. The heavy dependencies;
# `site` and `re`, whose start-up cost is why the launchers exist; and the standard
# modules that cost a session milliseconds. (re2 is imported only when a regex must
# run: tests/test_security_regex.py checks that it then is, here no entry needs one.)
HOT_PATH_NEVER = frozenset(
    {
        "yaml",
        "jsonschema",
        "requests",
        "site",
        "re",
        "re2",
        "pathlib",
        "typing",
        "dataclasses",
        "json",
        "subprocess",
        "enum",
        "contextlib",
        "signal",
        "importlib",
        "collections",
        "argparse",
        "shutil",
    }
)

CONF = "repo foo\n    RW+ = alice\n"


def imported(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` output (``import time: self | cumulative | name``)."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def forbidden(mods: set[str]) -> list[str]:
    return sorted(m for m in mods if m.split(".")[0] in HOT_PATH_NEVER)


def flags(script: str | Path) -> list[str]:
    """The launcher's shebang flags (asserted to be the lean ``-IS``)."""
    interpreter, *rest = Path(script).read_text().splitlines()[0][2:].split()
    assert interpreter == sys.executable and rest == ["-IS"]
    return rest


@pytest.fixture
def compiled(server: Server) -> Server:
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text(CONF)
    assert server.cli("compile").returncode == 0
    load_rc()  # the rc cache exists: only a stale cache may import YAML
    return server


def run_cli(server: Server, *args: str, soc: str | None = None, stdin: str = "") -> tuple:
    """The account's lean ``gitolite-triggers`` with ``-X importtime``: (result, modules)."""
    script = launcher.write_shell_launcher(str(server.admin_base))
    env = dict(server.env)
    if soc is not None:
        env["SSH_ORIGINAL_COMMAND"] = soc
    r = subprocess.run(
        [sys.executable, *flags(script), "-X", "importtime", script, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=server.home,
    )
    return r, imported(r.stderr)


def test_fetch(compiled: Server) -> None:
    r, mods = run_cli(compiled, "shell", "alice", soc="git-upload-pack 'foo'", stdin="0000")
    assert (r.returncode, r.stdout) == (0, "0000"), r.stderr[-3000:]
    assert "gitolite_triggers.conf.query" in mods  # the access check really ran
    assert "gitolite_triggers.runner" in mods  # and the session's triggers fired
    assert forbidden(mods) == []


@pytest.mark.parametrize(
    ("soc", "status", "says"),
    [
        ("info", 0, "hello alice"),
        ("rm -rf /", 1, "FATAL:"),
        ("help", 0, "list of remote commands"),
        ("perms foo -l", 1, "repo does not exist, or you are not authorised"),
    ],
)
def test_info_and_a_refused_command(compiled: Server, soc: str, status: int, says: str) -> None:
    r, mods = run_cli(compiled, "shell", "alice", soc=soc)
    assert r.returncode == status and says in r.stdout + r.stderr, r.stderr[-3000:]
    assert "gitolite_triggers.shell.wrapper" in mods
    if soc == "info":  # git's version, asked without the subprocess module
        assert " on git 2." in r.stdout, r.stdout
    assert forbidden(mods) == []


def test_access(compiled: Server) -> None:
    r, mods = run_cli(compiled, "access", "-q", "foo", "alice", "W", "master")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "gitolite_triggers.conf.query" in mods
    assert forbidden(mods) == []


def test_authorized_keys(compiled: Server, tmp_path: Path) -> None:
    """sshd's AuthorizedKeysCommand: runs for every key a client offers, before any session."""
    import pwd

    from tests.support.adminkeys import make_key

    pub = make_key(tmp_path, "alice")
    (compiled.admin_base / "keydir").mkdir(exist_ok=True)
    (compiled.admin_base / "keydir" / "alice.pub").write_text(pub.read_text())
    assert compiled.cli("trigger", "POST_COMPILE").returncode == 0
    me = pwd.getpwuid(os.getuid()).pw_name
    r, mods = run_cli(compiled, "authorized-keys", me, *pub.read_text().split()[:2])
    assert r.returncode == 0 and " shell alice" in r.stdout, r.stderr[-3000:]
    assert "gitolite_triggers.keyindex" in mods
    assert forbidden(mods) == []
    # the root-owned launcher `setup --sshd-config` writes (HOME baked in), as sshd runs it
    root_launcher = tmp_path / "authorized-keys-launcher"
    root_launcher.write_text(launcher.render_authkeys_launcher(str(compiled.home)))
    env = {k: v for k, v in compiled.env.items() if k != "HOME"}
    r = subprocess.run(
        [sys.executable, *flags(root_launcher), "-X", "importtime", str(root_launcher),
         "authorized-keys", me, *pub.read_text().split()[:2]],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0 and " shell alice" in r.stdout, r.stderr[-3000:]
    assert forbidden(imported(r.stderr)) == []


def test_firing_an_in_process_program(compiled: Server, tmp_path: Path) -> None:
    """runner.fire with a ``module:function`` program, started as the launchers start."""
    (tmp_path / "hotprobe.py").write_text(
        "def main(argv):\n    print('ran', *argv)\n    return 3\n"
    )
    compiled.write_rc("PRE_GIT:\n  - hotprobe:main\n", name="50-probe.yaml")
    assert compiled.cli("rc", "show").returncode == 0  # rebuild the rc cache
    code = (
        "import sys\n"
        f"sys.path += {[*launcher.import_path(), str(tmp_path)]!r}\n"
        "from gitolite_triggers.rc import load_rc\n"
        "from gitolite_triggers.runner import Options, fire\n"
        "sys.exit(fire(load_rc(), 'PRE_GIT', 'foo', 'alice', opts=Options(stdout_to_stderr=True)))\n"
    )
    r = subprocess.run(
        [sys.executable, "-IS", "-X", "importtime", "-c", code],
        env=compiled.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 3 and "ran PRE_GIT foo alice" in r.stderr, r.stderr[-3000:]
    mods = imported(r.stderr)
    assert "hotprobe" in mods
    assert forbidden(mods) == []


WRAP = """#!/bin/sh
# The hook stub's own interpreter and flags, plus -X importtime into a file per hook.
name=$(basename "$1")
exec {python} {flags} -X importtime "$@" 2>>"{logs}/$name"
"""

FAKE_SSH = """#!/bin/sh
# git runs: <this> HOST COMMAND (GIT_SSH_VARIANT=simple); be sshd + the forced command
for last; do :; done
SSH_ORIGINAL_COMMAND="$last" exec {python} {flags} -X importtime {script} shell alice 2>>{logs}/shell
"""


def test_push_session_and_every_hook(compiled: Server, tmp_path: Path) -> None:
    """A real push through the forced command; git receive-pack runs the repo's hooks,
    whose stubs are rewritten to run with their own flags under ``-X importtime``."""
    # pre-receive and post-update are linked only where the rc gives them work: an
    # in-process program (print: no import at all) that shows it ran.
    compiled.write_rc(
        "hooks:\n  pre-receive: [builtins:print]\n  post-update: [builtins:print]\n",
        name="50-hooks.yaml",
    )
    rc = load_rc()
    repos.install_hooks(rc, compiled.repo_base / "foo.git")  # as `setup` relinks every repo
    logs = tmp_path / "logs"
    logs.mkdir()
    folder = repos.write_common_hooks(rc)
    wrap = tmp_path / "py-importtime"
    for hook in repos.HOOK_NAMES:
        stub = folder / hook
        hook_flags = " ".join(flags(stub))
        lines = stub.read_text().splitlines(keepends=True)
        stub.write_text(f"#!{wrap}\n" + "".join(lines[1:]))
    wrap.write_text(WRAP.format(python=sys.executable, flags=hook_flags, logs=logs))
    wrap.chmod(0o755)
    hooks = compiled.repo_base / "foo.git" / "hooks"
    assert {n for n in repos.HOOK_NAMES if (hooks / n).exists()} == set(repos.HOOK_NAMES)

    script = launcher.write_shell_launcher(str(compiled.admin_base))
    fake = tmp_path / "fake-ssh"
    fake.write_text(
        FAKE_SSH.format(
            python=sys.executable, flags=" ".join(flags(script)), script=script, logs=logs
        )
    )
    fake.chmod(0o755)
    env = {**compiled.env, "GIT_SSH_COMMAND": str(fake), "GIT_SSH_VARIANT": "simple"}
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env
    )
    r = subprocess.run(
        ["git", "-C", str(work), "push", "server:foo", "HEAD:refs/heads/master"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr + "".join(p.read_text() for p in logs.iterdir())
    for name in ("shell", *repos.HOOK_NAMES):
        text = (logs / name).read_text()
        mods = imported(text)
        assert "gitolite_triggers" in mods, (name, text[-3000:])  # it really ran, measured
        assert forbidden(mods) == [], name
    assert "remote: ['refs/heads/master']" in r.stderr  # post-update's program ran
    assert "gitolite_triggers.conf.query" in imported((logs / "update").read_text())
    assert "gitolite_triggers.hooks.pushrecord" in imported((logs / "post-receive").read_text())
