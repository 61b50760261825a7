"""Issue 10, the process part: file modes, the detached deliverer, the log, the environment,
fail-closed guards and what clients see (defects 6, 8, 10, 11, 12, 13).

Everything goes through the real paths: a real OpenSSH sshd configured sloppily on purpose
(``AcceptEnv GL_* GIT_*``), real git clients, the real forced command and repo hooks, and
the real CLI. One server account and one sshd for the module; a test that changes the rc
writes ``90-sec.yaml`` and the ``rc_fragment`` fixture removes it afterwards.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import Server, make_server
from tests.support.sshd import SshClient, Sshd, SshKey, install_keys, make_key
from tests.support.sshworld import SshWorld, serve
from tests.support.standin import TOKEN, WorkTree, bk_rc, running_standin, wait_until

USERS = ("admin", "alice", "bob")
CONF = """\
repo gitolite-admin
    RW+     =   admin

repo foo
    RW+     =   alice
    R       =   bob
"""
RECORDER = """\
#!{python}
import json, os, sys
entry = {{"kind": os.path.basename(sys.argv[0]), "argv": sys.argv[1:],
          "env": {{k: v for k, v in os.environ.items() if k.startswith(("GL_", "GIT_"))}}}}
fd = os.open({rec!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(fd, (json.dumps(entry) + "\\n").encode())
os.close(fd)
"""
STAMP = re.compile(r"^\d{4}-\d\d-\d\d\.\d\d:\d\d:\d\d\t")


class World(SshWorld):
    def __init__(self, base: Path) -> None:
        self.base = base
        self.server: Server = make_server(base / "home")
        self.keys: dict[str, SshKey] = {u: make_key(base / "keys", u) for u in USERS}
        self.rec = base / "records.jsonl"
        srv = self.server
        admin_pub = base / "admin.pub"
        admin_pub.write_text(self.keys["admin"].pub + "\n")
        r = srv.cli("setup", "-pk", str(admin_pub))
        assert r.returncode == 0, r.stderr
        self.local = base / "local"
        (self.local / "triggers").mkdir(parents=True)
        for name in ("record", "record-hook"):
            p = self.local / "triggers" / name
            p.write_text(RECORDER.format(python=sys.executable, rec=str(self.rec)))
            p.chmod(0o755)
        srv.write_rc(f"LOCAL_CODE: {self.local}\n", name="80-local.yaml")
        (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
        assert srv.cli("compile").returncode == 0
        self.authorized_keys = install_keys(srv, [self.keys[u] for u in USERS])
        # The sloppy sshd of defect 11: every GL_* and GIT_* variable a client sends is accepted.
        self.sshd = Sshd(
            base / "sshd", home=srv.home, extra_config="AcceptEnv GL_* GIT_*\n"
        ).start()
        self.rec.write_text("")
        self.work = base / "work"
        self.work.mkdir()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.rec.read_text().splitlines()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("secproc"))
    yield from serve(w)


@pytest.fixture
def rc_fragment(world: World) -> Iterator[Any]:
    """Write ``90-sec.yaml`` (as often as the test likes); removed after the test."""
    path = world.server.rc_d / "90-sec.yaml"

    def write(text: str) -> Path:
        path.write_text(text)
        return path

    try:
        yield write
    finally:
        path.unlink(missing_ok=True)
        world.rec.write_text("")


def sent_env(client: SshClient, **env: str) -> SshClient:
    """The client sends ``env`` with every connection (``ssh -o SetEnv=...``)."""
    base = client.ssh_argv
    setenv = " ".join(f"{k}={v}" for k, v in env.items())
    client.ssh_argv = lambda: [*base(), "-o", f"SetEnv={setenv}"]  # type: ignore[method-assign]
    return client


def tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with (mode, size, mtime), not following symlinks."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_no_internals(text: str, world_home: Path) -> None:
    """What a client saw holds no server path, parser message or traceback."""
    assert str(world_home) not in text, text
    for word in ("Traceback", "yaml", "YAML", "line ", "Error:", 'File "'):
        assert word not in text, (word, text)


# ---------------------------------------------------------------- 6: private files, umask


def test_rc_cache_is_written_0600_under_sshds_umask(world: World, rc_fragment: Any) -> None:
    """sshd starts the forced command under umask 022; the rc cache (which holds every rc
    value, here a secret from a 0600 fragment) is still 0600, and so is the log."""
    frag = rc_fragment("buildkite:\n  pipelines: []\n  token_file: /nonexistent/secret-abc\n")
    frag.chmod(0o600)
    cache = Path(str(world.server.rc_file) + ".cache")
    cache.unlink(missing_ok=True)
    proc = subprocess.run(
        ["sh", "-c", 'umask 022; exec "$0" -m gitolite_triggers shell alice', sys.executable],
        env={**world.server.env, "SSH_ORIGINAL_COMMAND": "help"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"secret-abc" in cache.read_bytes()  # the cache does hold the fragment's value
    assert mode(cache) == 0o600
    logs = list((world.server.admin_base / "logs").glob("*.log"))
    assert logs and all(mode(p) == 0o600 for p in logs)


def test_an_old_world_readable_cache_is_made_private(world: World) -> None:
    cache = Path(str(world.server.rc_file) + ".cache")
    assert world.client("bob").ssh("help").returncode == 0
    cache.chmod(0o644)
    r = world.client("bob").ssh("help")
    assert r.returncode == 0, r.stderr
    assert mode(cache) == 0o600


def test_hooks_write_privately_under_umask_000(world: World) -> None:
    """A push started under umask 000 (an admin's local push: the hooks inherit it): the
    rc cache the hook rebuilds and the push record it writes are still private."""
    cache = Path(str(world.server.rc_file) + ".cache")
    cache.unlink()
    wt = world.work / "umask"
    env = {**world.server.env, "GL_BYPASS_ACCESS_CHECKS": "1"}
    bare = world.server.repo_base / "foo.git"
    subprocess.run(["git", "clone", "-q", str(bare), str(wt)], check=True, env=env)
    subprocess.run(["git", "-C", str(wt), "commit", "-q", "--allow-empty", "-m", "u"],
                   check=True, env=env)  # fmt: skip
    records = world.server.admin_base / "push-records"
    before = set(records.rglob("*")) if records.exists() else set()
    push = subprocess.run(
        ["sh", "-c", "umask 000; exec git push -q origin HEAD:refs/heads/umask"],
        cwd=wt, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert push.returncode == 0, push.stderr
    assert mode(cache) == 0o600
    new = [p for p in records.rglob("*") if p not in before]
    assert new, "post-receive wrote no push record"
    assert all(mode(p) & 0o077 == 0 for p in new), [(p, oct(mode(p))) for p in new]


# ---------------------------------------------------------------- 10: one record, one line

NASTY = [
    "git-upload-pack 'foo\u2028bar'",
    "git-upload-pack 'foo\u0085bar'",
    "git-upload-pack 'foo\u2029bar'",
    "info \x1c\x1d\x1e",
    "git-upload-pack 'a\u009bb'",
    "help \u200e\u202e x",
    "perms \\ back\\slash",
    "git-upload-pack 'x\x0bx\x0cx'",
]


@pytest.mark.parametrize("soc", NASTY, ids=lambda s: s.encode("unicode_escape").decode()[:40])
def test_log_records_and_fatal_lines_stay_one_line(world: World, soc: str) -> None:
    """Unicode line breaks, C1 controls and format characters in a command are escaped in
    the log and in the FATAL line: Python's splitlines() sees one line per record."""
    before = world.log()
    proc = subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "shell", "alice"],
        env={**world.server.env, "SSH_ORIGINAL_COMMAND": soc},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == ""
    new = world.log()[len(before) :]
    assert new.count("\n") == len(new.splitlines()) >= 1, new
    assert all(STAMP.match(line) for line in new.splitlines()), new
    ssh_line = next(line for line in new.splitlines() if "\tssh\t" in line)
    assert ssh_line.split("\t")[3].startswith("ARGV=alice")
    assert len(ssh_line.split("\t")) == 6  # stamp, tid, ssh, ARGV, SOC, FROM: no stray tab
    if "\\" in soc:
        assert "back\\\\slash" in ssh_line  # the backslash itself is escaped
    if proc.returncode != 0:
        fatal = proc.stderr
        assert fatal.startswith("FATAL: ") and len(fatal.splitlines()) == fatal.count("\n") == 1


def test_escape_covers_every_code_point() -> None:
    """glog.escape: printable output for every code point, reversible, one line."""
    from gitolite_triggers.glog import escape

    text = "".join(map(chr, range(0x110000))) + "\\"
    out = escape(text)
    assert out.isprintable() and len(out.splitlines()) == 1
    back = out.encode("latin-1", "backslashreplace").decode("unicode_escape")
    assert back == text


# ---------------------------------------------------------------- 11: inherited GL_*, GIT_*


def test_client_environment_cannot_steer_the_server(world: World, rc_fragment: Any) -> None:
    """Through a sloppy sshd (AcceptEnv GL_* GIT_*), a client sends GL_LOGFILE (aimed at
    authorized_keys), GL_RC/GL_RC_D (an rc.d that removes every trigger), GL_TID, the
    hooks' bypass, and GIT_CONFIG_* setting core.hooksPath to hooks of its own. The log
    still goes to the rc's file, every trigger and hook fires, authorized_keys is untouched,
    and the planted hook never runs."""
    rc_fragment("PRE_GIT: [record]\nPOST_GIT: [record]\nhooks:\n  update: [record-hook]\n")
    evil = world.base / "evil"
    (evil / "rc.d").mkdir(parents=True)
    (evil / "rc.d" / "99.yaml").write_text("PRE_GIT: [{remove: '*'}]\nPOST_GIT: [{remove: '*'}]\n")
    (evil / "hooks").mkdir()
    canary = world.base / "evil-canary"
    for hook in ("update", "pre-receive", "post-receive"):
        h = evil / "hooks" / hook
        h.write_text(f"#!/bin/sh\ntouch {canary}\n")
        h.chmod(0o755)
    ak_before = world.authorized_keys.read_bytes()
    log_before = world.log()
    c = sent_env(
        world.client("alice"),
        GL_LOGFILE=str(world.authorized_keys),
        GL_RC=str(evil / "rc.yaml"),
        GL_RC_D=str(evil / "rc.d"),
        GL_TID="31337",
        GL_BYPASS_ACCESS_CHECKS="1",
        GL_ADMIN_BASE=str(evil),
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0="core.hooksPath",
        GIT_CONFIG_VALUE_0=str(evil / "hooks"),
        GIT_EXEC_PATH=str(evil),
        GIT_TRACE=str(evil / "trace"),
    )
    wt = world.work / "steer"
    r = c.git("clone", "-q", c.url("foo"), str(wt))
    assert r.returncode == 0, r.stderr
    subprocess.run(["git", "-C", str(wt), "commit", "-q", "--allow-empty", "-m", "s"],
                   check=True, env=c.env())  # fmt: skip
    r = c.git("push", "-q", "origin", "HEAD:main", cwd=wt)
    assert r.returncode == 0, r.stderr
    assert world.authorized_keys.read_bytes() == ak_before
    assert not canary.exists() and not (evil / "trace").exists()
    new_log = world.log()[len(log_before) :]
    assert "\tssh\tARGV=alice\tSOC=git-receive-pack '/foo'" in new_log
    assert "\t31337\t" not in new_log
    recs = world.records()
    kinds = [(r["kind"], r["argv"][0]) for r in recs]
    assert ("record", "PRE_GIT") in kinds and ("record", "POST_GIT") in kinds
    assert any(k == "record-hook" for k, _ in kinds)
    for rec in recs:
        env = rec["env"]
        assert env["GL_LOGFILE"].startswith(str(world.server.admin_base / "logs"))
        assert env["GL_ADMIN_BASE"] == str(world.server.admin_base)
        assert env["GL_TID"] != "31337"
        assert "GL_BYPASS_ACCESS_CHECKS" not in env and "GL_RC_D" not in env
        assert not any(k.startswith("GIT_CONFIG_") for k in env), env
        assert not any(str(evil) in v for v in env.values()), env  # git's own GIT_* only


def test_a_bypass_sent_by_a_client_does_not_bypass(world: World) -> None:
    """bob may only read foo; sending GL_BYPASS_ACCESS_CHECKS=1 and GL_USER=alice changes
    nothing."""
    c = sent_env(world.client("bob"), GL_BYPASS_ACCESS_CHECKS="1", GL_USER="alice")
    wt = world.work / "bob"
    assert c.git("clone", "-q", c.url("foo"), str(wt)).returncode == 0
    subprocess.run(["git", "-C", str(wt), "commit", "-q", "--allow-empty", "-m", "b"],
                   check=True, env=c.env())  # fmt: skip
    r = c.git("push", "-q", "origin", "HEAD:refs/heads/bob", cwd=wt)
    assert r.returncode != 0
    assert "DENIED" in r.stderr or "denied" in r.stderr, r.stderr


# ---------------------------------------------------------------- 12: guards fail closed


@pytest.mark.parametrize("name", ["ACCESS_CHECK", "ACCESS_1", "PRE_GIT"])
def test_a_missing_guard_denies_and_rc_check_says_so(
    world: World, rc_fragment: Any, name: str
) -> None:
    rc_fragment(f"{name}: [policy-guard]\n")
    check = world.server.cli("rc", "check")
    assert check.returncode == 1
    assert "90-sec.yaml:1" in check.stderr and "policy-guard" in check.stderr, check.stderr
    log_before = world.log()
    r = world.client("alice").git("ls-remote", world.client("alice").url("foo"))
    assert r.returncode != 0
    assert "server configuration error; ask an admin (ref " in r.stderr, r.stderr
    assert "policy-guard" not in r.stderr
    assert_no_internals(r.stderr, world.server.home)
    new_log = world.log()[len(log_before) :]
    assert "policy-guard" in new_log and "fail closed" in new_log
    ref = re.search(r"\(ref (\d+)\)", r.stderr).group(1)  # type: ignore[union-attr]
    assert f"\t{ref}\tdie\t" in new_log  # the reference finds the detail in the log


def test_a_guard_that_cannot_start_denies(world: World, rc_fragment: Any) -> None:
    bad = world.local / "triggers" / "badshebang"
    bad.write_text("#!/nonexistent/interpreter\n")
    bad.chmod(0o755)
    try:
        rc_fragment("ACCESS_CHECK: [badshebang]\n")
        assert world.server.cli("rc", "check").returncode == 0  # it exists: check can't know
        c = world.client("alice")
        r = c.git("ls-remote", c.url("foo"))
        assert r.returncode != 0 and "ask an admin (ref " in r.stderr, r.stderr
        assert "badshebang" not in r.stderr and "nonexistent" not in r.stderr
    finally:
        bad.unlink()


def test_a_missing_guard_in_the_update_hook_denies_the_ref(world: World, rc_fragment: Any) -> None:
    """The per-ref ACCESS_2 (and ACCESS_CHECK) in the update hook: a push is refused."""
    rc_fragment("ACCESS_2: [policy-guard]\n")
    c = world.client("alice")
    wt = world.work / "upd"
    assert c.git("clone", "-q", c.url("foo"), str(wt)).returncode == 0
    subprocess.run(["git", "-C", str(wt), "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True, env=c.env())  # fmt: skip
    r = c.git("push", "-q", "origin", "HEAD:refs/heads/upd", cwd=wt)
    assert r.returncode != 0
    assert "ask an admin (ref " in r.stderr and "policy-guard" not in r.stderr, r.stderr
    assert c.git("ls-remote", c.url("foo"), "refs/heads/upd").stdout == ""  # nothing changed


def test_a_missing_non_guard_is_a_warning_and_invisible_to_clients(
    world: World, rc_fragment: Any
) -> None:
    rc_fragment("POST_GIT: [no-such-notifier]\n")
    check = world.server.cli("rc", "check")
    assert check.returncode == 0, check.stderr
    assert "warning:" in check.stderr and "no-such-notifier" in check.stderr
    c = world.client("alice")
    r = c.git("ls-remote", c.url("foo"))
    assert r.returncode == 0, r.stderr
    assert "no-such-notifier" not in r.stderr
    assert "no-such-notifier" in world.log()


def test_an_admin_firing_a_missing_guard_gets_the_detail(world: World, rc_fragment: Any) -> None:
    rc_fragment("ACCESS_CHECK: [policy-guard]\n")
    r = world.server.cli("trigger", "ACCESS_CHECK", "foo", "alice", "R", "any", "x")
    assert r.returncode == 1
    assert "ACCESS_CHECK program 'policy-guard' cannot run" in r.stderr, r.stderr


# ---------------------------------------------------------------- 13: what clients see


def test_a_broken_rc_shows_clients_a_reference_and_admins_the_detail(
    world: World, rc_fragment: Any
) -> None:
    # With no last good rc to fall back on (see test_a_bad_rc_edit_keeps_serving_...).
    (world.server.home / ".gitolite.rc.yaml.last-good").unlink()
    rc_fragment("PRE_GIT: [record\n  oops: : :\n")
    c = world.client("alice")
    home_before = tree(world.server.repo_base)
    for r in (c.ssh("info"), c.git("ls-remote", c.url("foo"))):
        assert r.returncode != 0
        lines = [ln for ln in r.stderr.splitlines() if "FATAL" in ln]
        assert len(lines) == 1, r.stderr
        assert re.fullmatch(
            r"(remote: )?FATAL: server configuration error; ask an admin \(ref \d+\)", lines[0]
        ), r.stderr
        assert_no_internals(r.stderr, world.server.home)
        ref = re.search(r"\(ref (\d+)\)", lines[0]).group(1)  # type: ignore[union-attr]
        record = [ln for ln in world.log().splitlines() if f"\t{ref}\tdie\t" in ln]
        assert record and "90-sec.yaml" in record[0], world.log()[-2000:]
    assert tree(world.server.repo_base) == home_before
    for args in (("rc", "show"), ("trigger", "POST_COMPILE"), ("compile",)):
        admin = world.server.cli(*args)
        assert admin.returncode == 1
        assert "90-sec.yaml" in admin.stderr, (args, admin.stderr)  # the admin gets file:line


def test_a_bad_rc_edit_keeps_serving_the_last_good_rc_and_tells_no_client(
    world: World, rc_fragment: Any
) -> None:
    """Issue 15: one bad edit must not refuse every fetch; clients see nothing of it."""
    assert world.server.cli("rc", "show").returncode == 0  # a good rc was served (and kept)
    rc_fragment("PRE_GIT: [record\n  oops: : :\n")
    c = world.client("alice")
    log_before = world.log()
    r = c.git("ls-remote", c.url("foo"))
    assert r.returncode == 0, r.stderr
    assert "rc" not in r.stderr.lower() and "FATAL" not in r.stderr
    new_log = world.log()[len(log_before) :]
    assert "\twarn\tthe rc is invalid (" in new_log and "running on the last good rc" in new_log
    admin = world.server.cli("rc", "show", "UMASK")
    assert admin.returncode == 0 and admin.stderr.startswith("WARNING: the rc is invalid")


def test_a_broken_rc_is_logged_at_the_default_place_when_the_log_is_unknown(
    tmp_path: Path,
) -> None:
    """The rc that names the log is broken: the detail goes to ~/.gitolite/logs."""
    srv = make_server(tmp_path / "home")
    srv.write_rc("LOG_TEMPLATE: /nonexistent/%y.log\nGL_REPO_BASE: [\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "shell", "alice"],
        env={**srv.env, "SSH_ORIGINAL_COMMAND": "info"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("FATAL: server configuration error; ask an admin (ref ")
    assert_no_internals(proc.stderr, srv.home)
    logs = list((srv.home / ".gitolite" / "logs").glob("gitolite-*.log"))
    assert logs and ".gitolite.rc.yaml" in logs[0].read_text()


def test_a_failing_in_process_program_tells_the_client_nothing_internal(
    world: World, rc_fragment: Any
) -> None:
    rc_fragment("PRE_GIT: [tests.support.callables:explode]\n")
    c = world.client("alice")
    r = c.git("ls-remote", c.url("foo"))
    assert r.returncode != 0
    assert "frobnicator" not in r.stderr and "tests.support" not in r.stderr, r.stderr
    assert "ask an admin (ref " in r.stderr
    assert "frobnicator" in world.log()
    admin = world.server.cli("trigger", "PRE_GIT", "foo", "alice", "R", "any", "git-upload-pack")
    assert admin.returncode == 1 and "frobnicator" in admin.stderr


# ---------------------------------------------------------------- 8: the detached deliverer

PLANTED = """\
import os
open({canary!r}, "w").write("planted module ran: " + __name__)
"""


def _plant(folder: Path, canary: Path) -> None:
    """A fake gitolite_triggers package (and requests) that would run if imported."""
    pkg = folder / "gitolite_triggers" / "buildkite"
    pkg.mkdir(parents=True)
    for f in (
        folder / "gitolite_triggers" / "__init__.py",
        pkg / "__init__.py",
        pkg / "deliver.py",
    ):
        f.write_text(PLANTED.format(canary=str(canary)))
    (folder / "requests.py").write_text(PLANTED.format(canary=str(canary)))


def _bk_server(server: Server, api_url: str) -> Any:
    from gitolite_triggers.buildkite.spool import Spool
    from gitolite_triggers.rc import load_rc
    from gitolite_triggers.repos import init_bare

    server.write_rc(bk_rc(api_url))  # autostart on: the push kicks a detached deliverer
    init_bare(load_rc(), "foo")
    return Spool(server.admin_base / "buildkite")


def test_detached_deliverer_is_isolated(server: Server, tmp_path: Path) -> None:
    """Modules planted in the spool folder (the deliverer's old cwd) and on a PYTHONPATH the
    pusher's environment carries are never imported; the deliverer runs with -I from /."""
    canary = tmp_path / "canary"
    plant = tmp_path / "plant"
    with running_standin() as si:
        spool = _bk_server(server, si.api_url)
        spool.ensure()
        _plant(spool.root, canary)
        _plant(plant, canary)
        si.add_fault("hang", seconds=2)  # keep the deliverer alive while we look at it
        wt = WorkTree(
            tmp_path / "wt", {**server.env, "BUILDKITE_API_TOKEN": TOKEN, "PYTHONPATH": str(plant)}
        )
        sha = wt.commit("isolated")
        assert wt.push(server.repo_base / "foo.git", "main").returncode == 0
        holder = wait_until(lambda: spool.holder())
        assert os.readlink(f"/proc/{holder}/cwd") == "/"
        with open(f"/proc/{holder}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        assert b"-I" in argv
        si.clear_faults()
        wait_until(lambda: si.builds(), timeout=30)
        assert [b["commit"] for b in si.builds()] == [sha]
        wait_until(lambda: not spool.holder(), timeout=20)
    assert not canary.exists(), canary.read_text()


@pytest.mark.parametrize("how", ["world-writable", "symlinked-pending"])
def test_an_unsafe_spool_is_refused(server: Server, tmp_path: Path, how: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with running_standin() as si:
        spool = _bk_server(server, si.api_url)
        spool.ensure()
        if how == "world-writable":
            spool.root.chmod(0o777)
            expect = "group- or world-writable"
        else:
            spool.dir("pending").rmdir()
            spool.dir("pending").symlink_to(elsewhere)
            expect = "is not a folder"
        wt = WorkTree(tmp_path / "wt", {**server.env, "BUILDKITE_API_TOKEN": TOKEN})
        wt.commit("to an unsafe spool")
        r = wt.push(server.repo_base / "foo.git", "main")
        # the build cannot be spooled safely, so the ref does not move (issue 15), and the
        # pusher is told why without the server's paths
        assert r.returncode != 0
        assert (
            "FATAL: buildkite: refs/heads/main was not updated: its build could not be queued"
            " (the build spool cannot be written)" in r.stderr
        )
        told = [line for line in r.stderr.splitlines() if line.startswith("remote:")]
        assert told and not any(str(server.home) in line for line in told)
        assert wt.git("ls-remote", str(server.repo_base / "foo.git")).stdout == ""
        log = server.log_text()
        assert expect in log and "refusing it" in log
        assert list(elsewhere.iterdir()) == [] and si.received() == []
        admin = server.cli("buildkite", "deliver")
        assert admin.returncode != 0 and expect in admin.stderr


def test_a_symlinked_lock_is_never_followed(server: Server, tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    with running_standin() as si:
        spool = _bk_server(server, si.api_url)
        server.write_rc(bk_rc(si.api_url, extra="  autostart: false\n"))
        wt = WorkTree(tmp_path / "wt", server.env)
        wt.commit("one build waiting")
        assert wt.push(server.repo_base / "foo.git", "main").returncode == 0
        assert len(spool.ids("pending")) == 1
        (spool.root / "lock").unlink(missing_ok=True)
        (spool.root / "lock").symlink_to(target)
        r = server.cli("buildkite", "deliver", extra_env={"BUILDKITE_API_TOKEN": TOKEN})
        assert r.returncode == 1 and "is a symlink; refusing it" in r.stderr, r.stderr
        assert si.received() == []
    assert target.read_text() == "keep me\n"


def test_a_symlinked_record_is_never_read(server: Server, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"id": "x", "repo": "SECRET-CONTENT"}')
    with running_standin() as si:
        spool = _bk_server(server, si.api_url)
        spool.ensure()
        (spool.dir("pending") / "x.json").symlink_to(secret)
        r = server.cli("buildkite", "status")
        assert "SECRET-CONTENT" not in r.stdout + r.stderr
        assert list(spool.records("pending")) == []


def test_fault_injection_sent_by_a_client_is_inert(world: World) -> None:
    """Even with the root-owned flag file in place (as on a test machine) and a sshd that
    accepts GL_*, a client's GL_FAULT (kill at every step) and GL_FAULT_LOCK_WAIT never
    reach the server's processes: the forced command drops them, so the admin push
    completes and takes effect."""
    from gitolite_triggers import faults

    flag = Path(faults.FLAG)
    if not flag.exists():  # tests run as root (tests/faults/conftest.py makes it too)
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.write_text("armed for the tests (gitolite_triggers/faults.py)\n")
        flag.chmod(0o644)
    c = sent_env(world.client("admin"), GL_FAULT="*", GL_FAULT_LOCK_WAIT="0")
    wt = world.work / "faulty-admin"
    assert c.git("clone", "-q", c.url("gitolite-admin"), str(wt)).returncode == 0
    conf = wt / "conf" / "gitolite.conf"
    conf.write_text(CONF + "\nrepo fault-canary\n    RW+ = admin\n")
    subprocess.run(["git", "-C", str(wt), "commit", "-qam", "f"], check=True, env=c.env())
    r = c.git("push", "-q", "origin", "HEAD", cwd=wt)
    assert r.returncode == 0, r.stderr
    assert (world.server.repo_base / "fault-canary.git").is_dir()
    conf.write_text(CONF)  # leave the module's conf as it was
    subprocess.run(["git", "-C", str(wt), "commit", "-qam", "g"], check=True, env=c.env())
    assert c.git("push", "-q", "origin", "HEAD", cwd=wt).returncode == 0


@pytest.mark.parametrize("how", ["missing", "symlink", "group-writable", "not-root", "folder"])
def test_fault_flag_must_be_roots_own_plain_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from gitolite_triggers import faults

    flag = tmp_path / "flag"
    if how == "symlink":
        real = tmp_path / "real"
        real.write_text("x")
        flag.symlink_to(real)
    elif how == "folder":
        flag.mkdir()
    elif how != "missing":
        flag.write_text("x")
        flag.chmod(0o664 if how == "group-writable" else 0o644)
        if how == "not-root":
            os.chown(flag, 65534, 65534)
    monkeypatch.setattr(faults, "FLAG", str(flag))
    monkeypatch.setattr(faults, "_enabled", None)
    monkeypatch.setenv("GL_FAULT", "*")
    assert not faults.enabled()
    faults.point("anything")  # would SIGKILL this test process if armed
