"""``compile``: repos created with hooks and PRE_CREATE/POST_CREATE, the store replaced atomically,
a failed compile keeping the last good state, and checks racing compiles seeing old or new only."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from gitolite_triggers import repos
from gitolite_triggers.conf import query
from gitolite_triggers.conf.compile import CompileError, compile_conf, store_path
from gitolite_triggers.rc import load_rc
from tests.support.server import Server

RECORDER = """#!{python}
import os, sys
repo = sys.argv[-1]
exists = os.path.isdir(os.path.join(os.environ["GL_REPO_BASE"], repo + ".git"))
with open({log!r}, "a") as f:
    f.write(" ".join(sys.argv[1:]) + " exists=" + str(exists) + "\\n")
sys.exit(int(os.environ.get("REC_EXIT", "0")) if "pre" in sys.argv else 0)
"""


def write_conf(server: Server, text: str) -> None:
    d = server.admin_base / "conf"
    d.mkdir(parents=True, exist_ok=True)
    (d / "gitolite.conf").write_text(text)


def recorder(server: Server) -> tuple[Path, Path]:
    log = server.home / "triggers.log"
    prog = server.home / "rec.py"
    prog.write_text(RECORDER.format(python=sys.executable, log=str(log)))
    prog.chmod(0o755)
    return prog, log


def test_compile_creates_repos_with_hooks_and_fires_create_triggers(server: Server) -> None:
    prog, log = recorder(server)
    server.write_rc(
        f"PRE_CREATE:\n  - {prog} pre\nPOST_CREATE:\n  - {prog} post\n  - {prog} both\nPOST_COMPILE:\n  - {prog} both\n",
        name="50-rec.yaml",
    )
    write_conf(
        server,
        "@rg = g1 g2\nrepo foo team/bar\n  RW+ = u\nrepo @rg\n  R = u\nrepo cfg\n  option x = 1\nrepo nothing\nrepo pat/..*\n  C = u\n",
    )
    p = server.cli("compile", "-v")
    assert p.returncode == 0, p.stderr
    assert "compiled 5 repos, 1 patterns" in p.stdout and "created 5" in p.stdout
    rc = load_rc()
    made = ["cfg", "foo", "g1", "g2", "team/bar"]
    for name in made:
        assert repos.hooks_ok(rc, repos.repo_path(rc, name)), name
        assert not (repos.repo_path(rc, name) / "description").exists()
    assert not repos.exists(rc, "nothing")  # a repo line without rules or configs names no repo
    assert query.conf_repos(rc) == made
    lines = log.read_text().splitlines()
    # PRE_CREATE before the repo exists, POST_CREATE after, with the repo name only;
    # 'both' is also in POST_COMPILE, so compile-time creation skips it (gitolite's de-dup)
    assert lines == [f"pre PRE_CREATE {n} exists=False" for n in made] + [
        f"post POST_CREATE {n} exists=True" for n in made
    ]
    log.unlink()
    p = server.cli("compile", "-v")
    assert "created 0" in p.stdout and not log.exists()


def test_failing_pre_create_stops_compile_keeps_state(server: Server) -> None:
    prog, log = recorder(server)
    server.write_rc(f"PRE_CREATE:\n  - {prog} pre\n", name="50-rec.yaml")
    write_conf(server, "repo old\n  R = u\n")
    compile_conf(load_rc())
    write_conf(server, "repo old\n  RW = u\n\nrepo new\n  R = u\n")
    p = server.cli("compile", extra_env={"REC_EXIT": "3"})
    assert p.returncode == 1
    assert (
        "FATAL: conf/gitolite.conf:4: creating repo 'new': PRE_CREATE failed with status 3"
        in p.stderr
    )
    rc = load_rc()
    assert not repos.exists(rc, "new")
    assert (
        query.access(rc, "old", "u", "W", "any") == "W any old u DENIED by fallthru"
    )  # old rules in force


def test_conf_error_keeps_last_good_state(server: Server) -> None:
    write_conf(server, "repo foo\n  RW+ = alice\n")
    assert server.cli("compile").returncode == 0
    before = Path(store_path(load_rc())).read_bytes()
    write_conf(server, "repo foo\n  RW+ = bob\nrepo brand-new\n  R = bob\n  RW+ = bad/user\n")
    p = server.cli("compile")
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        "FATAL: conf/gitolite.conf:5: bad username 'bad/user'",
        "FATAL: compile failed; the previous compiled rules stay in force",
    ]
    rc = load_rc()
    assert Path(store_path(rc)).read_bytes() == before
    assert not repos.exists(rc, "brand-new")
    assert query.access(rc, "foo", "alice", "W", "any") == "refs/.*"
    assert query.access(rc, "foo", "bob", "W", "any") == "W any foo bob DENIED by fallthru"


def test_compile_error_type_and_warnings_on_stderr(server: Server) -> None:
    write_conf(server, "repo foo.git\n  R master = @ghost\n")
    p = server.cli("compile")
    assert p.returncode == 0
    assert p.stderr.splitlines() == [
        "WARNING: conf/gitolite.conf:1: explicit '.git' extension ignored for foo.git",
        "WARNING: conf/gitolite.conf:2: doesn't make sense to supply a ref ('refs/heads/master') for 'R' rule",
        "WARNING: conf/gitolite.conf:2: possible undeclared group '@ghost'",
        f"Initialized empty Git repository in {server.repo_base}/foo.git/",  # git's, as gitolite
    ]
    assert server.cli("compile", "extra").returncode == 2
    assert issubclass(CompileError, Exception)


def test_existing_repo_rehooked_not_recreated(server: Server) -> None:
    rc = load_rc()
    path = repos.repo_path(rc, "imported")
    subprocess.run(["git", "init", "--bare", "-q", str(path)], check=True)
    (path / "marker").write_text("keep")
    write_conf(server, "repo imported\n  R = u\n")
    report = compile_conf(rc)
    assert report.created == [] and report.rehooked == ["imported"]
    assert (path / "marker").read_text() == "keep"
    assert repos.hooks_ok(rc, path)


# filler groups make the store span many pages, laid out differently in A and B
CONF_A = "@g = alice\nrepo foo\n  RW+ master = @g\n" + "".join(
    f"@fa{i} = m{i}\n" for i in range(3000)
)
CONF_B = "@g = carol\nrepo foo\n  RW+ dev = alice\n" + "".join(
    f"@fb{i} = mm{i} n{i}\n" for i in range(4000)
)
CONF_BAD = "@g = alice\nrepo foo\n  RW+ master = @g\n  bogus line\n"


def test_checks_racing_compiles_see_old_or_new_never_a_mix(server: Server) -> None:
    """A checker process hammers `access --batch` while compiles alternate A, B and a broken conf.

    A mix of A's groups and B's rules (or the reverse) would answer 'DENIED by fallthru'
    for alice, which neither conf does.
    """
    write_conf(server, CONF_A)
    rc = load_rc()
    compile_conf(rc)
    n = 12000
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitolite_triggers", "access", "--batch"],
        env=server.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    feeder = threading.Thread(
        target=lambda: (proc.stdin.write("foo alice W any\n" * n), proc.stdin.close())
    )
    feeder.start()
    compiles = 0
    failed = 0
    out_lines: list[str] = []
    reader = threading.Thread(target=lambda: out_lines.extend(proc.stdout))
    reader.start()
    confs = [CONF_B, CONF_BAD, CONF_A]
    while proc.poll() is None or compiles < 3:
        write_conf(server, confs[compiles % 3])
        try:
            compile_conf(rc)
        except Exception:  # the broken conf
            failed += 1
        compiles += 1
    feeder.join()
    reader.join()
    assert proc.returncode == 0, proc.stderr.read()
    answers = {"0\trefs/heads/master\n", "0\trefs/heads/dev\n"}
    assert len(out_lines) == n
    bad = [ln for ln in out_lines if ln not in answers]
    assert not bad, bad[:5]
    assert failed >= 1 and compiles >= 6
    # both states were really seen while the checker ran
    assert set(out_lines) == answers, (compiles, set(out_lines))


def test_repo_that_cannot_be_created_names_its_conf_line(server: Server) -> None:
    write_conf(server, "repo fine\n  R = u\n\nrepo blocked\n  R = u\n")
    server.repo_base.mkdir(parents=True, exist_ok=True)
    (server.repo_base / "blocked.git").write_text("a file where the repo should go")
    p = server.cli("compile")
    assert p.returncode == 1
    assert "FATAL: conf/gitolite.conf:4: creating repo 'blocked' failed: " in p.stderr
    assert not Path(store_path(load_rc())).exists()  # nothing compiled yet, so nothing in force


def test_repo_group_member_escaping_the_repo_base_refused(server: Server) -> None:
    write_conf(server, "@rg = ok a/../../escape\nrepo @rg\n  R = u\n")
    p = server.cli("compile")
    assert p.returncode == 1
    assert (
        "FATAL: conf/gitolite.conf:1: bad reponame 'a/../../escape' (a member of a repo group): contains '..'"
        in p.stderr
    )
    assert not (server.home / "escape.git").exists() and not (server.repo_base / "ok.git").exists()


def test_rc_hostname_reaches_the_compiler(server: Server) -> None:
    """t/hostname.t: the rc's HOSTNAME is a setting (an older build dropped it as a trigger
    list, so `%HOSTNAME/` was a `bad ref` even with HOSTNAME set)."""
    server.write_rc("HOSTNAME: frodo\n", name="50-host.yaml")
    write_conf(server, "repo bar-%HOSTNAME\n  RW %HOSTNAME/ = u1\n  RW %HOSTNAME-baz = u1\n")
    p = server.cli("compile")
    assert p.returncode == 0, p.stderr
    assert load_rc().get("HOSTNAME") == "frodo"
    ok = server.cli("access", "bar-frodo", "u1", "W", "refs/heads/frodo/1")
    assert ok.returncode == 0 and "refs/heads/frodo/" in ok.stdout, ok.stdout + ok.stderr
    no = server.cli("access", "bar-frodo", "u1", "W", "refs/heads/frodo")
    assert no.returncode == 1 and "DENIED by fallthru" in no.stdout
