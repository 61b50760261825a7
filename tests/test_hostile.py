"""Hostile input: the corpus in tests/data/hostile_soc.jsonl, and hostile refs on push.

Each hostile SSH_ORIGINAL_COMMAND runs the real wrapper in a subprocess (as sshd would,
minus the network; a few also go through the real sshd in test_ssh_e2e.py) and must be
refused with a clear FATAL message and a non-zero exit, with nothing on stdout (the
protocol stream), no traceback, a ``die`` line in the log, no canary file, and no change
anywhere in the server account or outside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitolite_triggers.shell.soc import SocError, parse
from tests.support.server import Server, make_server

DATA = Path(__file__).parent / "data" / "hostile_soc.jsonl"
USER = "alice"


def load_corpus() -> list[dict[str, Any]]:
    entries = []
    for line in DATA.read_text().splitlines():
        if line.strip() and not line.startswith("//"):
            entries.append(json.loads(line))
    return entries


CORPUS = load_corpus()


def soc_of(entry: dict[str, Any], canary: Path) -> str:
    rep = entry.get("repeat")
    soc = rep["prefix"] + rep["unit"] * rep["count"] + rep["suffix"] if rep else entry["soc"]
    return soc.replace("{CANARY}", str(canary))


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[int, int]]:
    """Every path under root (not following symlinks) with its size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if any(Path(dirpath).is_relative_to(s) for s in skip):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


class Hostile:
    """One server account with symlinks out of the repo base, shared by the corpus tests."""

    def __init__(self, base: Path) -> None:
        self.server = make_server(base / "home")
        self.canary = base / "canary"
        self.outside = base / "outside"
        self.outside.mkdir()
        subprocess.run(["git", "init", "-q", "--bare", str(self.outside / "real.git")], check=True)
        subprocess.run(
            ["git", "init", "-q", "--bare", str(self.outside / "existing.git")], check=True
        )
        repos = self.server.repo_base
        repos.mkdir(parents=True)
        (repos / "evil.git").symlink_to(self.outside / "real.git")
        (repos / "linkdir").symlink_to(self.outside)
        self.logdir = self.server.admin_base / "logs"
        # one benign session first: builds the rc cache and the log folder
        assert self.run("help").returncode == 0

    def log_text(self) -> str:
        return (
            "".join(p.read_text() for p in sorted(self.logdir.glob("*.log")))
            if self.logdir.is_dir()
            else ""
        )

    def run(self, soc: str) -> subprocess.CompletedProcess[str]:
        env = {
            **self.server.env,
            "SSH_ORIGINAL_COMMAND": soc,
            "SSH_CONNECTION": "192.0.2.7 4242 127.0.0.1 22",
        }
        return subprocess.run(
            [sys.executable, "-m", "gitolite_triggers", "shell", USER],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            cwd=self.server.home,
        )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    return Hostile(tmp_path_factory.mktemp("hostile"))


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 60
    assert len({e["id"] for e in CORPUS}) == len(CORPUS)
    kinds = " ".join(e["id"] for e in CORPUS)
    for word in (
        "semicolon",
        "dotdot",
        "absolute",
        "tilde",
        "option",
        "dash-x",
        "newline",
        "nul",
        "huge",
        "unicode",
        "symlink",
    ):
        assert word in kinds, word


@pytest.mark.parametrize("entry", [e for e in CORPUS if e["via"] == "parse"], ids=lambda e: e["id"])
def test_refused_by_parser(entry: dict[str, Any], tmp_path: Path) -> None:
    # NUL cannot travel in an environment variable (nor in sshd's exec request): parser level.
    with pytest.raises(SocError) as e:
        parse(soc_of(entry, tmp_path / "canary"))
    assert entry["expect"] in str(e.value)
    assert "\x00" not in str(e.value)


@pytest.mark.parametrize(
    "entry",
    [e for e in CORPUS if e["via"] == "direct"],
    ids=lambda e: e["id"],
)
def test_refused_by_wrapper(hostile: Hostile, entry: dict[str, Any]) -> None:
    soc = soc_of(entry, hostile.canary)
    skip = (hostile.logdir,)
    before_home = snapshot(hostile.server.home, skip)
    before_out = snapshot(hostile.outside)
    log_before = len(hostile.log_text())
    proc = hostile.run(soc)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert proc.stderr.startswith("FATAL: "), proc.stderr
    assert entry["expect"] in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr) < 2000  # long commands are shown cut, not echoed whole
    assert not hostile.canary.exists()
    assert snapshot(hostile.server.home, skip) == before_home
    assert snapshot(hostile.outside) == before_out
    new_log = hostile.log_text()[log_before:]
    assert f"\tssh\tARGV={USER}\tSOC=" in new_log and "\tFROM=192.0.2.7" in new_log
    # every record is one line for every reader (U+2028, NEL... escaped, never raw)
    assert all(line[:4].isdigit() and line[10] == "." for line in new_log.splitlines()), new_log
    die_lines = [line for line in new_log.splitlines() if "\tdie\t" in line]
    assert len(die_lines) == 1 and entry["expect"] in die_lines[0], new_log[-500:]


def test_invalid_user_argument_refused(hostile: Hostile) -> None:
    env = {**hostile.server.env, "SSH_ORIGINAL_COMMAND": "help"}
    for bad in ("-x", "a;b", "al ice", "../x"):
        proc = subprocess.run(
            [sys.executable, "-m", "gitolite_triggers", "shell", bad],
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode != 0 and "FATAL: invalid user name" in proc.stderr, (
            bad,
            proc.stderr,
        )
        assert proc.stdout == ""


# ---------------------------------------------------------------- hostile refs

HOSTILE_REFS = [
    "refs/heads/$(touch${IFS}{CANARY})",
    "refs/heads/`touch${IFS}{CANARY}`",
    "refs/heads/a;touch${IFS}{CANARY}",
    "refs/heads/a|touch",
    "refs/heads/a&b",
    "refs/heads/a>b",
    "refs/heads/a<b",
    'refs/heads/a"b',
    "refs/heads/a'b",
    "refs/heads/a%b",
    "refs/heads/a=b",
    "refs/heads/a#b",
    "refs/heads/a!b",
    "refs/heads/\u00fcnicode",
    "refs/heads/f\u03bf\u03bf",
    "refs/tags/$x",
]


def test_hostile_refs_refused_by_update_hook(server: Server, tmp_path: Path) -> None:
    """A push carrying hostile ref names: each is refused by the update hook, nothing runs.

    The push is local (the bare repo's path) with the environment the wrapper gives git
    (GL_USER, GL_REPO), so the refusal is the update hook's own ref check; the same
    check runs through sshd in test_ssh_e2e.py.
    """
    from gitolite_triggers.rc import load_rc
    from gitolite_triggers.repos import init_bare

    rc = load_rc()
    bare = init_bare(rc, "target")
    canary = tmp_path / "canary"
    work = tmp_path / "work"
    env = {**server.env, "GL_USER": USER, "GL_REPO": "target", "GL_TID": "4242"}
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env
    )
    refs = [r.replace("{CANARY}", str(canary)) for r in HOSTILE_REFS]
    push = subprocess.run(
        ["git", "-C", str(work), "push", str(bare), *[f"HEAD:{r}" for r in refs]],
        env=env,
        capture_output=True,
        text=True,
    )
    assert push.returncode != 0
    assert push.stderr.count("FATAL: invalid characters in ref or filename") == len(refs), (
        push.stderr
    )
    assert "Traceback" not in push.stderr
    assert not canary.exists()
    shown = subprocess.run(
        ["git", "-C", str(bare), "for-each-ref"], capture_output=True, text=True, env=env
    )
    assert shown.stdout == ""
    log = server.log_text()
    assert log.count("\tdie\t") >= len(refs) and "invalid characters in ref or filename" in log


def test_local_push_without_wrapper_is_refused_unless_bypassed(
    server: Server, tmp_path: Path
) -> None:
    """No GL_USER (a push on the server itself): refused by name, no traceback; the
    admin bypass GL_BYPASS_ACCESS_CHECKS=1 lets it through and logs a bypass line."""
    from gitolite_triggers.rc import load_rc
    from gitolite_triggers.repos import init_bare

    bare = init_bare(load_rc(), "local")
    work = tmp_path / "work"
    env = dict(server.env)
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env
    )
    push = subprocess.run(
        ["git", "-C", str(work), "push", str(bare), "HEAD:refs/heads/main"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert push.returncode != 0
    assert "did not come through `gitolite-triggers shell`" in push.stderr
    assert "GL_BYPASS_ACCESS_CHECKS=1" in push.stderr
    assert "Traceback" not in push.stderr
    env["GL_BYPASS_ACCESS_CHECKS"] = "1"
    push = subprocess.run(
        ["git", "-C", str(work), "push", str(bare), "HEAD:refs/heads/main"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert push.returncode == 0, push.stderr
    log = server.log_text()
    assert "\tbypass\trefs/heads/main\t" in log


# ---------------------------------------------------------------- the new ssh commands, enabled

ALL_COMMANDS = "COMMANDS: [help, info, perms, desc, writable, D, create, fork, symbolic-ref]\n"
ENABLED_HOSTILE = [
    "D restore ../x/2026",
    "D restore /etc/2026-01-01",
    "D restore evil/2026-01-01",
    "D restore linkdir/real/2026-01-01",
    "D restore alice/x/..",
    "D restore alice/x/2026:01/",
    "D rm evil",
    "D unlock linkdir/real",
    "D trash linkdir/real",
    "D trash alice//x",
    "fork evil alice/f",
    "fork linkdir/real alice/f",
    "fork linkdir/existing alice/f",
    "fork pub linkdir/new",
    "fork pub evil",
    "create linkdir/new",
    "create linkdir/sub/new",
    "perms -c linkdir/new4 + READERS bob",
    "create evil",
    "create alice/x.git/y",
    "symbolic-ref evil HEAD refs/heads/x",
    "symbolic-ref linkdir/real HEAD",
    "symbolic-ref pub HEAD refs/heads/--upload-pack=touch",
    "symbolic-ref pub --short HEAD",
    "desc linkdir/real x",
    "perms -c linkdir/new + READERS bob",
    "perms -c evil",
]


@pytest.fixture(scope="module")
def enabled(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    h = Hostile(tmp_path_factory.mktemp("hostile-cmds"))
    h.server.write_rc(ALL_COMMANDS)
    conf = h.server.admin_base / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "gitolite.conf").write_text(
        "repo gitolite-admin\n    RW+ = admin\nrepo pub\n    RW+ = @all\n"
        "repo [a-z].*\n    C = @all\n    RW+ = CREATOR\n"
    )
    assert h.server.cli("compile").returncode == 0
    return h


@pytest.mark.parametrize("soc", ENABLED_HOSTILE)
def test_enabled_commands_refuse_hostile_arguments(enabled: Hostile, soc: str) -> None:
    """With D, create, fork and symbolic-ref enabled and a C rule for everything, names
    through symlinks out of the repo base, paths and options are refused: non-zero exit,
    no traceback, no server path, nothing changed outside (or under linkdir/evil)."""
    skip = (enabled.logdir,)
    before_out = snapshot(enabled.outside)
    before_repos = snapshot(enabled.server.repo_base, skip)
    proc = enabled.run(soc)
    assert proc.returncode != 0, (soc, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert str(enabled.server.home) not in proc.stdout + proc.stderr
    assert str(enabled.outside) not in proc.stdout + proc.stderr
    assert snapshot(enabled.outside) == before_out
    assert snapshot(enabled.server.repo_base, skip) == before_repos
