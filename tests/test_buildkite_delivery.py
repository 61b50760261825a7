"""Delivery against the stand-in on loopback: every status path of reference A.3/A.4/A.6,
the lookup that keeps a lost response from making a second build, dead letters, the CLI,
and token hygiene."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from gitolite_triggers.buildkite.deliver import Deliverer
from gitolite_triggers.buildkite.spool import Spool
from gitolite_triggers.rc import load_rc
from gitolite_triggers.repos import init_bare
from tests.support.standin import ORG, PIPELINE, TOKEN, WorkTree, bk_rc, running_standin, wait_until


@pytest.fixture
def bk(server, tmp_path, monkeypatch):
    """(server, stand-in, spool, push) with autostart off: the test runs the deliverer."""
    monkeypatch.setenv("BUILDKITE_API_TOKEN", TOKEN)
    with running_standin() as si:
        server.write_rc(bk_rc(si.api_url, extra="  autostart: false\n"))
        rc = load_rc()
        repo = init_bare(rc, "foo")
        wt = WorkTree(tmp_path / "wt", server.env)

        def push(*branches: str) -> list[str]:
            shas = []
            for b in branches:
                wt.git("checkout", "-q", "-B", b)
                shas.append(wt.commit(f"work on {b}"))
                r = wt.push(repo, b)
                assert r.returncode == 0, r.stderr
            return shas

        yield server, si, Spool(server.admin_base / "buildkite"), push


def deliver() -> int:
    return Deliverer(load_rc()).run()


def log_text(server) -> str:
    return server.log_text()


def posts(si) -> list[dict]:
    return [e for e in si.received() if e["method"] == "POST"]


def test_201_done_and_logged(bk):
    server, si, spool, push = bk
    (sha,) = push("main")
    assert deliver() == 0
    (build,) = si.builds()
    assert build["commit"] == sha and build["branch"] == "main"
    (rec,) = spool.records("done")
    assert rec["build"]["number"] == build["number"] and rec["build"]["web_url"] == build["web_url"]
    assert spool.ids("pending") == []
    assert f"delivered\tfoo\trefs/heads/main\t{sha}\tbuild #1\t{build['web_url']}" in log_text(
        server
    )


def test_5xx_backs_off_then_delivers_once(bk):
    server, si, spool, push = bk
    push("main")
    si.add_fault("status", status=502, times=2)
    assert deliver() == 0
    assert len(si.builds()) == 1
    seq = [(e["method"], e["status"]) for e in si.received()]
    # before each re-post it looks for a build carrying our delivery id
    assert seq == [("POST", 502), ("GET", 200), ("POST", 502), ("GET", 200), ("POST", 201)]
    get = [e for e in si.received() if e["method"] == "GET"][0]
    (rec,) = spool.records("done")
    assert ("meta_data[gitolite_triggers_delivery_id]", rec["id"]) in get["query"]
    assert rec["attempts"] == 3


@pytest.mark.parametrize("fault", ["drop_after_create", "status_after_create"])
def test_lost_response_does_not_make_a_second_build(bk, fault):
    server, si, spool, push = bk
    push("main")
    si.add_fault(fault, status=500)
    assert deliver() == 0
    assert len(si.builds()) == 1
    assert len(posts(si)) == 1
    (rec,) = spool.records("done")
    assert rec["build"]["number"] == 1
    assert "found the build an earlier attempt created" in log_text(server)


def test_hang_times_out_and_retries_without_duplicate(bk):
    server, si, spool, push = bk
    push("main")
    si.add_fault("hang", seconds=30)
    t = time.monotonic()
    assert deliver() == 0
    assert time.monotonic() - t >= 1.0  # read_timeout 1 s
    assert len(si.builds()) == 1 and len(posts(si)) == 2
    assert "POST failed: ReadTimeout" in log_text(server)


def test_dropped_connection_is_retried(bk):
    server, si, spool, push = bk
    push("main")
    si.add_fault("drop")
    assert deliver() == 0
    assert len(si.builds()) == 1 and "POST failed: ConnectionError" in log_text(server)


def test_429_waits_for_ratelimit_reset(bk):
    server, si, spool, push = bk
    push("main")
    si.add_fault("rate_limit", seconds=1)
    assert deliver() == 0
    p = posts(si)
    assert [e["status"] for e in p] == [429, 201]
    assert p[1]["time"] - p[0]["time"] >= 1.0
    assert len(si.builds()) == 1 and "rate limited (429)" in log_text(server)


def test_real_rate_limit_window_is_waited_out(bk):
    server, si, spool, push = bk
    push("main", "release/a", "release/b")
    si.set_limits(user_limit=2, window=1.5)
    assert deliver() == 0
    assert len(si.builds()) == 3
    assert sorted(b["branch"] for b in si.builds()) == ["main", "release/a", "release/b"]


@pytest.mark.parametrize(
    ("setup", "status", "needle"),
    [
        ("filter", 422, "Build does not match the pipeline's filter condition"),
        ("token", 401, "Authentication required"),
        ("pipeline", 404, "No pipeline found"),
        ("scope", 403, "write_builds"),
    ],
)
def test_permanent_errors_go_to_dead_letters(bk, monkeypatch, setup, status, needle):
    server, si, spool, push = bk
    if setup == "filter":
        si.add_pipeline(ORG, PIPELINE, branches=["production"])
    elif setup == "token":
        monkeypatch.setenv("BUILDKITE_API_TOKEN", "bkua_wrong")
    elif setup == "pipeline":
        del si.pipelines[(ORG, PIPELINE)]
        si.add_pipeline(ORG, "something-else")
    else:
        si.add_token(TOKEN, ["read_builds"])
    (sha,) = push("main")
    assert deliver() == 0
    assert si.builds() == [] and len(posts(si)) == 1  # no retry
    (rec,) = spool.records("dead")
    assert rec["dead"]["status"] == status and needle in rec["dead"]["body"]
    line = [ln for ln in log_text(server).splitlines() if "\tdead\t" in ln]
    assert len(line) == 1 and f"status={status}" in line[0] and needle in line[0] and sha in line[0]
    r = server.cli("buildkite", "status")
    assert "dead: 1" in r.stdout and str(status) in r.stdout
    # fix the cause, then retry the dead letter: it delivers once
    si.add_pipeline(ORG, PIPELINE)
    si.add_token(TOKEN, None)
    r = server.cli("buildkite", "retry", "--all-dead", extra_env={"BUILDKITE_API_TOKEN": TOKEN})
    assert r.returncode == 0 and rec["id"] in r.stdout
    wait_until(lambda: spool.ids("done") and not spool.ids("pending") and not spool.holder())
    assert len(si.builds()) == 1 and spool.ids("dead") == []


def test_gives_up_after_the_configured_time(bk):
    server, si, spool, push = bk
    server.write_rc(
        bk_rc(si.api_url, extra="  autostart: false\n").replace(
            "give_up_after: 60", "give_up_after: 0.5"
        )
    )
    push("main")
    si.add_fault("status", status=503, times=1000)
    assert deliver() == 0
    (rec,) = spool.records("dead")
    assert rec["dead"]["status"] == "gave up" and "HTTP 503" in rec["dead"]["why"]


def test_cli_status_deliver_check(bk, monkeypatch):
    server, si, spool, push = bk
    push("main", "release/x")
    env = {"BUILDKITE_API_TOKEN": TOKEN}
    r = server.cli("buildkite", "status")
    assert r.returncode == 0 and "pending: 2" in r.stdout
    si.add_fault("status", status=502)
    r = server.cli("buildkite", "deliver", extra_env=env)
    assert r.returncode == 0, r.stderr
    assert (
        "2 pending" in r.stdout
        and "HTTP 502; retrying" in r.stdout
        and r.stdout.count("-> build #") == 2
    )
    r = server.cli("buildkite", "status")
    assert "pending: 0" in r.stdout and "build #1" in r.stdout and "build #2" in r.stdout
    r = server.cli("buildkite", "check", extra_env=env)
    assert r.returncode == 0, r.stdout
    assert "write_builds" in r.stdout and f"ok   pipeline {ORG}/{PIPELINE}" in r.stdout
    si.add_token(TOKEN, ["read_builds"])
    r = server.cli("buildkite", "check", extra_env=env)
    assert r.returncode == 1 and "lacks the write_builds scope" in r.stdout
    del si.pipelines[(ORG, PIPELINE)]
    si.add_pipeline(ORG, "x")
    si.add_token(TOKEN, None)
    r = server.cli("buildkite", "check", extra_env=env)
    assert r.returncode == 1 and f"FAIL pipeline {ORG}/{PIPELINE}" in r.stdout and "404" in r.stdout
    r = server.cli("buildkite", "check")
    assert r.returncode == 1 and "BUILDKITE_API_TOKEN" in r.stdout


def test_token_never_in_logs_spool_argv_or_errors(bk, monkeypatch):
    server, si, spool, push = bk
    monkeypatch.delenv("BUILDKITE_API_TOKEN")
    tf = server.home / ".buildkite-token"
    tf.write_text(TOKEN)
    tf.chmod(0o600)
    server.write_rc(bk_rc(si.api_url, extra="  token_file: ~/.buildkite-token\n"))  # autostart on
    si.add_fault("hang", seconds=3)  # keep the detached deliverer alive while we look at it
    push("main")
    holder = wait_until(lambda: spool.holder())
    with open(f"/proc/{holder}/cmdline", "rb") as f:
        cmdline = f.read()
    assert b"gitolite_triggers.buildkite.deliver" in cmdline and TOKEN.encode() not in cmdline
    with open(f"/proc/{holder}/environ", "rb") as f:
        assert TOKEN.encode() not in f.read()  # token_file: not in its environment either
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                assert TOKEN.encode() not in f.read()
        except OSError:
            continue
    si.clear_faults()
    wait_until(lambda: spool.ids("done") and not spool.holder(), timeout=20)
    tf.chmod(0o644)  # now refused: the error names the file, not the token
    push("release/1")
    # the detached deliverer refuses the file and says why in the log (no token there)
    wait_until(lambda: "mode 0644" in log_text(server) and not spool.holder())
    r = server.cli("buildkite", "deliver")
    assert r.returncode == 1 and "mode 0644" in r.stderr
    si.add_fault("status", status=500)
    tf.chmod(0o600)
    server.cli("buildkite", "deliver")
    assert len(si.builds()) == 2
    texts = [log_text(server), r.stdout, r.stderr]
    for path in spool.root.rglob("*"):
        if path.is_file() and path.name != "lock":
            texts.append(path.read_text())
    assert texts and all(TOKEN not in t for t in texts)


def test_update_hook_record_of_a_rejected_push_never_builds(bk, tmp_path):
    server, si, spool, push = bk
    server.write_rc(bk_rc(si.api_url, extra="  autostart: false\n  commit_grace: 0.3\n"))
    server.write_rc("hooks:\n  update:\n    - buildkite\n    - /bin/false\n", name="30-update.yaml")
    wt = WorkTree(tmp_path / "wt2", server.env)
    wt.commit("rejected later in the update hook")
    r = wt.push(server.repo_base / "foo.git", "main")
    assert r.returncode != 0  # /bin/false after us rejected the ref
    # spooled before the ref would move, but only as prepared: never seen by a deliverer
    assert spool.ids("pending") == [] and len(spool.ids("prepared")) == 1
    assert deliver() == 0 and si.received() == []
    server.write_rc("hooks:\n  update:\n    - buildkite\n", name="30-update.yaml")
    sha = wt.commit("accepted")
    assert wt.push(server.repo_base / "foo.git", "main").returncode == 0
    assert spool.ids("prepared") == []  # the refused ref's record was settled: dropped
    assert deliver() == 0
    assert [b["commit"] for b in si.builds()] == [sha]


def test_push_returns_while_the_endpoint_is_still_answering(server, tmp_path):
    with running_standin() as si:
        si.add_fault("slow", seconds=3)
        server.write_rc(
            bk_rc(si.api_url).replace("read_timeout: 1", "read_timeout: 10")
        )  # autostart on
        repo = init_bare(load_rc(), "foo")
        wt = WorkTree(tmp_path / "wt", {**server.env, "BUILDKITE_API_TOKEN": TOKEN})
        sha = wt.commit("fast push, slow Buildkite")
        t = time.monotonic()
        assert wt.push(repo, "main").returncode == 0
        took = time.monotonic() - t
        assert took < 2.5, took
        assert si.builds() == []  # the build is still being made: the push did not wait for it
        wait_until(lambda: si.builds(), timeout=20)
        assert [b["commit"] for b in si.builds()] == [sha]
        spool = Spool(server.admin_base / "buildkite")
        wait_until(lambda: not spool.ids("pending") and not spool.holder())


def test_wait_for_session_returns_when_the_session_ends():
    from gitolite_triggers.buildkite.deliver import wait_for_session

    proc = subprocess.Popen(["sleep", "0.4"])
    t = time.monotonic()
    wait_for_session(str(proc.pid))
    proc.wait()
    assert 0.3 <= time.monotonic() - t < 5
    t = time.monotonic()
    wait_for_session(str(proc.pid))  # gone: no wait
    wait_for_session("not-a-pid")
    wait_for_session(str(os.getpid()))  # never waits for itself
    assert time.monotonic() - t < 0.2
    sleeper = subprocess.Popen(["sleep", "5"])
    t = time.monotonic()
    wait_for_session(str(sleeper.pid), limit=0.3)  # capped
    sleeper.kill()
    sleeper.wait()
    assert 0.3 <= time.monotonic() - t < 2
