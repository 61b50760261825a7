"""The trigger runner and `gitolite-triggers trigger`, against the contract (docs/triggers.md)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.server import Server

RECORDER = textwrap.dedent(
    f"""\
    #!{sys.executable}
    import json, os, sys
    env = {{k: v for k, v in os.environ.items() if k.startswith("GL_")}}
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write(json.dumps({{"prog": os.path.basename(sys.argv[0]), "argv": sys.argv[1:], "env": env}}) + "\\n")
    """
)


def make_program(folder: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(mode)
    return path


def script(code: str) -> str:
    return f"#!{sys.executable}\n" + textwrap.dedent(code)


@pytest.fixture
def local(server: Server) -> Path:
    """A LOCAL_CODE folder with a recording program, named in the rc."""
    folder = server.home / "local"
    make_program(folder / "triggers", "record", RECORDER)
    server.env["RECORD_FILE"] = str(server.home / "record.jsonl")
    return folder


def records(server: Server) -> list[dict]:
    path = Path(server.env["RECORD_FILE"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_argv_without_rc_args_is_name_then_trigger_args(server: Server, local: Path) -> None:
    server.write_rc(f"LOCAL_CODE: {local}\nPRE_GIT:\n  - record\n")
    r = server.cli("trigger", "PRE_GIT", "foo", "alice", "R", "any", "git-upload-pack")
    assert r.returncode == 0, r.stderr
    assert records(server)[0]["argv"] == ["PRE_GIT", "foo", "alice", "R", "any", "git-upload-pack"]


def test_argv_with_rc_args_puts_them_first(server: Server, local: Path) -> None:
    server.write_rc(
        f"LOCAL_CODE: {local}\n"
        "PRE_GIT:\n"
        "  - record 10 -x\n"
        "  - {program: record, args: [a b, 2]}\n"
    )
    r = server.cli("trigger", "PRE_GIT", "foo", "alice")
    assert r.returncode == 0, r.stderr
    got = [rec["argv"] for rec in records(server)]
    assert got == [["10", "-x", "PRE_GIT", "foo", "alice"], ["a b", "2", "PRE_GIT", "foo", "alice"]]


def test_argv_without_trigger_args(server: Server, local: Path) -> None:
    server.write_rc(
        f"LOCAL_CODE: {local}\nPOST_COMPILE:\n  - remove: '*'\n  - record\n", name="90-test.yaml"
    )
    r = server.cli("trigger", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    assert records(server)[0]["argv"] == ["POST_COMPILE"]


def test_environment_has_the_contract_variables(server: Server, local: Path) -> None:
    server.write_rc(f"LOCAL_CODE: {local}\nPRE_GIT:\n  - record\n")
    r = server.cli(
        "trigger", "PRE_GIT", "foo", "alice", extra_env={"GL_USER": "alice", "GL_TID": "4242"}
    )
    assert r.returncode == 0, r.stderr
    env = records(server)[0]["env"]
    assert env["GL_USER"] == "alice"
    assert env["GL_TID"] == "4242"
    assert env["GL_REPO_BASE"] == str(server.repo_base)
    assert env["GL_ADMIN_BASE"] == str(server.admin_base)
    assert env["GL_LOGFILE"].startswith(str(server.admin_base / "logs" / "gitolite-"))
    assert (
        Path(env["GL_BINDIR"], "gitolite-triggers").exists()
        or Path(env["GL_BINDIR"], "python").exists()
    )


def test_entries_run_in_rc_order_across_fragments(server: Server, local: Path) -> None:
    make_program(local / "triggers", "second", RECORDER)
    server.write_rc(f"LOCAL_CODE: {local}\nPRE_GIT:\n  - record one\n")
    server.write_rc("PRE_GIT:\n  - second\n  - record three\n", name="50-more.yaml")
    assert server.cli("trigger", "PRE_GIT").returncode == 0
    assert [(r["prog"], r["argv"][0]) for r in records(server)] == [
        ("record", "one"),
        ("second", "PRE_GIT"),
        ("record", "three"),
    ]


def test_missing_and_non_executable_programs_warn_and_go_on(server: Server, local: Path) -> None:
    make_program(local / "triggers", "noexec", RECORDER, mode=0o644)
    # POST_GIT: not an access guard (in ACCESS_CHECK/PRE_GIT a missing program denies:
    # tests/test_security_process.py)
    server.write_rc(f"LOCAL_CODE: {local}\nPOST_GIT:\n  - nosuchprog\n  - noexec\n  - record\n")
    r = server.cli("trigger", "POST_GIT", "x")
    assert r.returncode == 0
    assert "WARNING: skipped trigger 'nosuchprog' (not found or not executable)" in r.stderr
    assert "WARNING: skipped trigger 'noexec' (not found or not executable)" in r.stderr
    assert [rec["prog"] for rec in records(server)] == ["record"]


def test_non_zero_exit_stops_the_sequence_and_is_returned(server: Server, local: Path) -> None:
    make_program(local / "triggers", "fail3", script("import sys; sys.exit(3)\n"))
    server.write_rc(
        f"LOCAL_CODE: {local}\nPRE_GIT:\n  - record before\n  - fail3\n  - record after\n"
    )
    r = server.cli("trigger", "PRE_GIT")
    assert r.returncode == 3
    assert [rec["argv"][0] for rec in records(server)] == ["before"]


def test_on_failure_continue_goes_on(server: Server, local: Path) -> None:
    make_program(local / "triggers", "fail3", script("import sys; sys.exit(3)\n"))
    server.write_rc(
        f"LOCAL_CODE: {local}\nPRE_GIT:\n  - {{program: fail3, on_failure: continue}}\n  - record after\n"
    )
    r = server.cli("trigger", "PRE_GIT")
    assert r.returncode == 0
    assert [rec["argv"][0] for rec in records(server)] == ["after"]


def test_timeout_kills_the_whole_process_group(server: Server, local: Path) -> None:
    pidfile = server.home / "child.pid"
    make_program(
        local / "triggers",
        "hang",
        script(
            f"""\
            import subprocess, time
            child = subprocess.Popen(["sleep", "60"])
            open({str(pidfile)!r}, "w").write(str(child.pid))
            time.sleep(60)
            """
        ),
    )
    server.write_rc(
        f"LOCAL_CODE: {local}\nPRE_GIT:\n  - {{program: hang, timeout: 1}}\n  - record\n"
    )
    r = server.cli("trigger", "PRE_GIT", timeout=30)
    assert r.returncode == 124
    assert "trigger program 'hang' timed out after 1s" in r.stderr
    assert records(server) == []
    child = int(pidfile.read_text())
    # The grandchild was in the killed group: it must be gone (or a zombie being reaped by init).
    try:
        state = Path(f"/proc/{child}/stat").read_text().split()[2]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z")


def test_in_process_callable_gets_the_same_argv(server: Server) -> None:
    server.env["RECORD_FILE"] = str(server.home / "record.jsonl")
    server.write_rc("PRE_GIT:\n  - tests.support.callables:record 1 2\n")
    r = server.cli("trigger", "PRE_GIT", "foo", "bob", extra_env={"GL_USER": "bob"})
    assert r.returncode == 0, r.stderr
    rec = records(server)[0]
    assert rec["argv"] == ["1", "2", "PRE_GIT", "foo", "bob"]
    assert rec["env"]["GL_USER"] == "bob"


def test_raising_callable_fails_with_its_message_and_no_traceback(
    server: Server, local: Path
) -> None:
    server.write_rc(
        f"LOCAL_CODE: {local}\nPRE_GIT:\n  - tests.support.callables:explode\n  - record\n"
    )
    r = server.cli("trigger", "PRE_GIT")
    assert r.returncode == 1
    assert (
        "FATAL: trigger program 'tests.support.callables:explode' failed: the frobnicator is out of order"
        in r.stderr
    )
    assert "Traceback" not in r.stderr
    assert records(server) == []


def test_callable_status_and_timeout(server: Server) -> None:
    server.write_rc("PRE_GIT:\n  - tests.support.callables:fail7\n")
    assert server.cli("trigger", "PRE_GIT").returncode == 7
    server.write_rc("PRE_GIT:\n  - {program: 'tests.support.callables:slow', timeout: 0.5}\n")
    r = server.cli("trigger", "PRE_GIT", timeout=20)
    assert r.returncode == 124
    assert "timed out" in r.stderr


def test_unknown_callable_module_warns_and_goes_on(server: Server) -> None:
    server.write_rc("POST_GIT:\n  - no.such.module:func\n")  # not a guard: skipped
    r = server.cli("trigger", "POST_GIT")
    assert r.returncode == 0
    assert "WARNING: skipped trigger 'no.such.module:func'" in r.stderr


def test_absolute_path_program(server: Server, tmp_path: Path) -> None:
    prog = make_program(tmp_path / "abs", "rec", RECORDER)
    server.env["RECORD_FILE"] = str(server.home / "record.jsonl")
    server.write_rc(f"POST_COMPILE:\n  - remove: '*'\n  - {prog} z\n", name="90-t.yaml")
    assert server.cli("trigger", "POST_COMPILE").returncode == 0
    assert records(server)[0]["argv"] == ["z", "POST_COMPILE"]


def test_local_code_wins_over_builtin(server: Server, local: Path) -> None:
    make_program(local / "triggers" / "post-compile", "update-git-configs", RECORDER)
    server.write_rc(
        f"LOCAL_CODE: {local}\nPOST_COMPILE:\n  - remove: '*'\n  - post-compile/update-git-configs\n",
        name="90-t.yaml",
    )
    r = server.cli("trigger", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    assert records(server)[0]["prog"] == "update-git-configs"


def test_entry_point_program_from_another_package(server: Server, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pkg = site / "gt_plugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "import json, os\n"
        "def run(argv):\n"
        "    open(os.environ['RECORD_FILE'], 'a').write(json.dumps({'argv': argv, 'plugin': True}) + '\\n')\n"
    )
    dist = site / "gt_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gt-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[gitolite_triggers.programs]\nhello = gt_plugin:run\n")
    server.env["PYTHONPATH"] = f"{site}{os.pathsep}{server.env['PYTHONPATH']}"
    server.env["RECORD_FILE"] = str(server.home / "record.jsonl")
    server.write_rc("PRE_GIT:\n  - hello a\n")
    r = server.cli("trigger", "PRE_GIT", "repo1")
    assert r.returncode == 0, r.stderr
    assert records(server) == [{"argv": ["a", "PRE_GIT", "repo1"], "plugin": True}]


def test_stdout_discipline_keeps_programs_off_stdout(server: Server, local: Path) -> None:
    """With stdout_to_stderr (the ssh wrapper's mode), nothing a program prints reaches our stdout."""
    make_program(local / "triggers", "chatty", script("print('PROGRAM-STDOUT')\n"))
    server.write_rc(
        f"LOCAL_CODE: {local}\nPRE_GIT:\n  - chatty\n  - tests.support.callables:chatty\n"
    )
    driver = (
        "import sys\n"
        "from gitolite_triggers.rc import load_rc\n"
        "from gitolite_triggers.runner import Options, fire\n"
        "sys.stdout.write('PROTOCOL-START\\n')\n"
        "status = fire(load_rc(), 'PRE_GIT', 'r', 'u', opts=Options(stdout_to_stderr=True))\n"
        "sys.stdout.write('PROTOCOL-END\\n')\n"
        "sys.exit(status)\n"
    )
    r = server.python(driver)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "PROTOCOL-START\nPROTOCOL-END\n"
    assert "PROGRAM-STDOUT" in r.stderr and "CALLABLE-STDOUT" in r.stderr
    # Without the flag, `trigger` from the command line shows the output on stdout.
    r2 = server.cli("trigger", "PRE_GIT")
    assert "PROGRAM-STDOUT" in r2.stdout and "CALLABLE-STDOUT" in r2.stdout


def test_programs_do_not_read_our_stdin(server: Server, local: Path) -> None:
    make_program(
        local / "triggers",
        "reader",
        script("import sys; print('read:' + repr(sys.stdin.read()))\n"),
    )
    server.write_rc(f"LOCAL_CODE: {local}\nPRE_GIT:\n  - reader\n")
    r = server.cli("trigger", "PRE_GIT", input="PACK-DATA")
    assert "read:''" in r.stdout


def test_trigger_cli_errors_and_flags(server: Server, local: Path) -> None:
    server.write_rc(f"LOCAL_CODE: {local}\nPRE_GIT:\n  - record 1\nMY_HOOK:\n  - record\n")
    r = server.cli("trigger", "POST_GTI")
    assert r.returncode == 2
    assert "trigger 'POST_GTI' is not defined in the rc" in r.stderr
    assert "MY_HOOK" in r.stderr and "POST_COMPILE" in r.stderr and "PRE_GIT" in r.stderr
    r = server.cli("trigger")
    assert r.returncode == 2 and "no trigger name given" in r.stderr
    # Always allowed, even when empty.
    server.write_rc("POST_CREATE:\n  - remove: '*'\n", name="90-t.yaml")
    assert server.cli("trigger", "POST_CREATE", "r", "u").returncode == 0
    # --dry-run prints what would run and runs nothing.
    r = server.cli("trigger", "--dry-run", "PRE_GIT", "foo")
    assert r.returncode == 0
    assert r.stdout.strip() == f"would run: {local / 'triggers' / 'record'} 1 PRE_GIT foo"
    assert records(server) == []
    # -v shows program, argv and result; custom admin-defined names can be fired.
    r = server.cli("trigger", "-v", "MY_HOOK", "x")
    assert r.returncode == 0
    assert f"running {local / 'triggers' / 'record'} MY_HOOK x\n" in r.stderr
    assert "exited 0" in r.stderr


def test_each_program_run_is_logged_with_status_and_duration(server: Server, local: Path) -> None:
    make_program(local / "triggers", "fail3", script("import sys; sys.exit(3)\n"))
    server.write_rc(f"LOCAL_CODE: {local}\nPRE_GIT:\n  - record\n  - fail3\n")
    server.cli("trigger", "PRE_GIT", extra_env={"GL_TID": "777"})
    logs = list((server.admin_base / "logs").glob("gitolite-*.log"))
    assert len(logs) == 1
    lines = [line.split("\t") for line in logs[0].read_text().splitlines()]
    runs = [f for f in lines if f[2] == "trigger"]
    assert [(f[1], f[3], f[4], f[5]) for f in runs] == [
        ("777", "PRE_GIT", "record", "exit=0"),
        ("777", "PRE_GIT", "fail3", "exit=3"),
    ]
    assert all(f[6].endswith("ms") and f[6][:-2].isdigit() for f in runs)
    # gitolite's local timestamp format
    assert all(len(f[0]) == 19 and f[0][10] == "." for f in runs)


def test_concurrent_logging_loses_and_tears_nothing(server: Server) -> None:
    """20 processes appending 200 lines each to one log: every line arrives whole."""
    import subprocess

    logfile = server.home / "concurrent.log"
    writer = (
        "import sys\n"
        "from gitolite_triggers.glog import log\n"
        "n = sys.argv[1]\n"
        "for i in range(200):\n"
        "    log(None, 'trigger', 'W' + n, str(i), 'x' * 300, logfile=sys.argv[2])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", writer, str(n), str(logfile)],
            env={**server.env, "GL_TID": str(n)},
        )
        for n in range(20)
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    lines = logfile.read_text().splitlines()
    assert len(lines) == 20 * 200
    seen = set()
    for line in lines:
        f = line.split("\t")
        assert len(f) == 6 and f[5] == "x" * 300 and f[3] == "W" + f[1]
        seen.add((f[1], f[4]))
    assert len(seen) == 4000


def test_in_process_program_cannot_change_our_environment(server: Server) -> None:
    server.write_rc("PRE_GIT:\n  - tests.support.callables:meddle\n")
    driver = (
        "import os\n"
        "from gitolite_triggers.rc import load_rc\n"
        "from gitolite_triggers.runner import fire\n"
        "os.environ['KEEP'] = 'yes'\n"
        "before = dict(os.environ)\n"
        "status = fire(load_rc(), 'PRE_GIT', 'r', 'u')\n"
        "print(status, dict(os.environ) == before)\n"
    )
    r = server.python(driver)
    assert r.stdout.split() == ["0", "True"], r.stderr


def test_environ_snapshot_is_the_public_view(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitolite_triggers.inproc import environ_snapshot

    monkeypatch.setenv("GL_SNAPSHOT_PROBE", "caf\u00e9 \u2028")
    monkeypatch.delenv("GL_SNAPSHOT_GONE", raising=False)
    snap = environ_snapshot()
    assert snap == dict(os.environb)
    assert snap[b"GL_SNAPSHOT_PROBE"] == "caf\u00e9 \u2028".encode()
    os.environ["GL_SNAPSHOT_GONE"] = "x"  # a copy: later changes do not reach it
    try:
        assert b"GL_SNAPSHOT_GONE" not in snap and environ_snapshot() != snap
    finally:
        del os.environ["GL_SNAPSHOT_GONE"]
