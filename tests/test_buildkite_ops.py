"""The admin's side of delivery (issue 12): ``status --json``, ``show``, ``redeliver``,
``metrics``, id prefixes, the reason a record is stuck, a failed manual ``deliver`` in
the log, no traceback into a closed pipe, a running deliverer following the rc,
``restart``/``deliver --take-over``, and the systemd unit's command line run for real."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitolite_triggers.buildkite.spool import Spool
from gitolite_triggers.rc import load_rc
from gitolite_triggers.repos import init_bare
from tests.support.server import REPO_ROOT, Server
from tests.support.standin import TOKEN, WorkTree, bk_rc, running_standin, wait_until
from tests.test_hot_path import compiled, run_cli  # noqa: F401 (compiled: a fixture)

UNIT = REPO_ROOT / "contrib" / "systemd" / "gitolite-triggers-buildkite.service"


@pytest.fixture
def bk(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """(server, stand-in, spool, push): token in a file, autostart off."""
    with running_standin() as si:
        tf = server.home / ".buildkite-token"
        tf.write_text(TOKEN)
        tf.chmod(0o600)
        server.write_rc(
            bk_rc(si.api_url, extra="  autostart: false\n  token_file: ~/.buildkite-token\n")
        )
        repo = init_bare(load_rc(), "foo")
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


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return server.cli("buildkite", *args)


def test_status_json_show_and_redeliver_by_prefix(bk) -> None:  # type: ignore[no-untyped-def]
    server, si, spool, push = bk
    (sha,) = push("main")
    doc = json.loads(cli(server, "status", "--json").stdout)
    assert [p["commit"] for p in doc["pending"]] == [sha]
    assert doc["deliverer"] == {"running": False, "pid": None} and doc["dead"] == []
    assert cli(server, "deliver").returncode == 0
    doc = json.loads(cli(server, "status", "--json").stdout)
    assert doc["pending"] == [] and doc["done_count"] == 1
    (recent,) = doc["recent"]
    (build,) = si.builds()
    assert recent["build"] == {"number": 1, "web_url": build["web_url"], "state": "scheduled"}
    rid = recent["id"]
    r = cli(server, "show", rid[:7])
    assert r.returncode == 0, r.stderr
    assert f"id: {rid} (done)" in r.stdout
    assert (
        f"request: POST {si.api_url}/organizations/example-org/pipelines/git-pipeline-demo/builds"
        in r.stdout
    )
    assert f'"commit": "{sha}"' in r.stdout  # the request body
    assert "response (POST" in r.stdout and "HTTP 201" in r.stdout
    assert "RateLimit-Remaining:" in r.stdout and f'"web_url": "{build["web_url"]}"' in r.stdout
    # a delivered one again: a new build of the same commit, a new delivery id
    r = cli(server, "redeliver", rid[:6])
    assert r.returncode == 0, r.stderr
    new_id = r.stdout.split(":")[0]
    assert new_id != rid
    assert cli(server, "deliver").returncode == 0
    builds = si.builds()
    assert [b["commit"] for b in builds] == [sha, sha]
    assert builds[1]["meta_data"]["gitolite_triggers_delivery_id"] == new_id
    assert json.loads(cli(server, "status", "--json").stdout)["recent"][0]["again_of"] == rid
    # a pending or unknown id cannot be redelivered; a bad prefix is a clear error
    r = cli(server, "redeliver", "0" * 32)
    assert r.returncode == 1 and "no delivery" in r.stderr and "Traceback" not in r.stderr
    r = cli(server, "show", "xyz")
    assert r.returncode == 1 and "is not a delivery id" in r.stderr


def test_ambiguous_prefix_is_refused_as_git_does(bk) -> None:  # type: ignore[no-untyped-def]
    server, _si, spool, _push = bk
    spool.ensure()
    for rid in ("abc1" + "0" * 28, "abc2" + "0" * 28):
        spool.save(
            "dead",
            {
                "id": rid,
                "repo": "foo",
                "ref": "refs/heads/main",
                "new": "1" * 40,
                "org": "o",
                "pipeline": "p",
                "body": {},
                "dead": {"status": 422},
            },
        )
    r = cli(server, "show", "abc")
    assert r.returncode == 1
    assert r.stderr.startswith(
        "FATAL: delivery id abc is ambiguous: abc100000000 (dead), abc200000000 (dead)"
    )
    assert cli(server, "show", "abc2").returncode == 0
    r = cli(server, "retry", "abc1")
    assert r.returncode == 0 and f"abc1{'0' * 28}: back to pending" in r.stdout


def test_a_missing_token_is_an_attempt_with_its_reason_and_logged(bk) -> None:  # type: ignore[no-untyped-def]
    server, si, spool, push = bk
    (server.home / ".buildkite-token").unlink()
    push("main")
    r = cli(server, "deliver")
    assert r.returncode == 1 and "cannot read token_file" in r.stderr
    assert "manual deliver failed: cannot read token_file" in server.log_text()
    doc = json.loads(cli(server, "status", "--json").stdout)
    (p,) = doc["pending"]
    assert p["attempts"] == 1 and p["last_error"].startswith("no token: cannot read token_file")
    text = cli(server, "status").stdout
    assert "attempts=1" in text and "last error: no token: cannot read token_file" in text
    cli(server, "deliver")
    assert json.loads(cli(server, "status", "--json").stdout)["pending"][0]["attempts"] == 2
    assert si.builds() == []


def test_metrics_are_prometheus_text(bk) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client.parser import text_string_to_metric_families

    server, si, spool, push = bk
    push("main")
    assert cli(server, "deliver").returncode == 0
    push("release/1")
    si.add_fault("status", status=422)
    assert cli(server, "deliver").returncode == 0  # release/1 is dead now
    push("release/2")
    r = cli(server, "metrics")
    assert r.returncode == 0, r.stderr
    fam = {
        s.name: s.value
        for f in text_string_to_metric_families(r.stdout)
        for s in f.samples
        if not s.labels
    }
    by = {
        s.labels["outcome"]: s.value
        for f in text_string_to_metric_families(r.stdout)
        for s in f.samples
        if s.labels
    }
    p = "gitolite_triggers_buildkite_"
    assert fam[p + "pending"] == 1 and fam[p + "dead"] == 1
    assert 0 < fam[p + "oldest_pending_age_seconds"] < 60
    assert by == {"created": 1, "skipped": 0, "dead": 1, "pending": 1}
    assert time.time() - 60 < fam[p + "last_success_timestamp_seconds"] <= time.time()
    out = server.home / "textfile" / "gitolite_triggers.prom"
    out.parent.mkdir()
    assert cli(server, "metrics", "--textfile", str(out)).returncode == 0

    def steady(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if not ln.startswith(p + "oldest_pending_age")]

    assert steady(out.read_text()) == steady(r.stdout)
    assert out.stat().st_mode & 0o777 == 0o644  # node_exporter, another account, reads it


@pytest.mark.parametrize(
    "argv",
    [
        ["buildkite", "status"],
        ["buildkite", "status", "--json"],
        ["buildkite", "metrics"],
        ["rc", "show"],
        ["--help"],
        ["buildkite", "--help"],
    ],
)
def test_a_closed_pipe_prints_no_traceback(bk, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    server, _si, _spool, push = bk
    push("main")
    read, write = os.pipe()
    os.close(read)  # the reader (`head`) is already gone: every write gets EPIPE
    try:
        r = subprocess.run(
            [sys.executable, "-m", "gitolite_triggers", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=server.env,
            cwd=server.home,
            timeout=60,
        )
    finally:
        os.close(write)
    assert r.stderr == ""
    assert r.returncode in (0, 141)


def test_a_running_deliverer_follows_the_rc(bk) -> None:  # type: ignore[no-untyped-def]
    server, si, spool, push = bk
    # a wrong api_url (nothing listens there): the deliverer backs off and keeps trying
    server.write_rc(
        bk_rc(
            "http://127.0.0.1:9/v2", extra="  autostart: false\n  token_file: ~/.buildkite-token\n"
        ).replace("give_up_after: 60", "give_up_after: 600")
    )
    (sha,) = push("main")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitolite_triggers", "buildkite", "deliver"],
        env=server.env,
        cwd=server.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: "POST failed: ConnectionError" in server.log_text())
        server.write_rc(
            bk_rc(si.api_url, extra="  autostart: false\n  token_file: ~/.buildkite-token\n")
        )
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "rc changed (api_url give_up_after); using it" in out
    assert [b["commit"] for b in si.builds()] == [sha]
    assert "rc changed (api_url give_up_after); using it" in server.log_text()


def test_restart_and_take_over(bk) -> None:  # type: ignore[no-untyped-def]
    server, si, spool, push = bk
    # every record backs off for a long time after its first 503: the deliverer waits
    server.write_rc(
        bk_rc(si.api_url, extra="  token_file: ~/.buildkite-token\n").replace(
            "initial_delay: 0.05, max_delay: 0.2", "initial_delay: 120, max_delay: 120"
        )
    )
    si.add_fault("status", status=503)
    (sha,) = push("main")  # autostart on: a detached deliverer
    first = wait_until(lambda: "answered HTTP 503" in server.log_text() and spool.holder())
    r = cli(server, "restart")
    assert r.returncode == 0, r.stderr
    assert (
        f"deliverer (pid {first}) stopped" in r.stdout and "a new deliverer is starting" in r.stdout
    )
    second = wait_until(lambda: spool.holder())
    assert second != first
    assert si.builds() == []  # the new one respects the backoff too
    r = cli(server, "deliver", "--take-over")
    assert r.returncode == 0, r.stderr
    assert f"asking the running deliverer (pid {second}) to stop" in r.stdout
    assert [b["commit"] for b in si.builds()] == [sha]
    wait_until(lambda: not spool.holder())
    assert "restart requested; letting go of the spool" in server.log_text()


def test_the_systemd_units_command_line_delivers(bk) -> None:  # type: ignore[no-untyped-def]
    server, si, spool, push = bk
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT)
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].startswith("/") and service["Type"] == "oneshot"
    unit_env = dict(kv.split("=", 1) for kv in shlex.split(service["Environment"]))
    (sha,) = push("main")  # autostart off: left pending, as after a reboot
    assert spool.ids("pending")
    # as systemd would run it: the unit's PATH (with the folder of our script first, as
    # the install steps say for a venv), HOME of the account, nothing else of ours
    env = {
        "HOME": str(server.home),
        "PATH": f"{Path(sys.executable).parent}:{unit_env['PATH']}",
        "LANG": "C.UTF-8",
    }
    r = subprocess.run(argv, env=env, cwd="/", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 or str(r.returncode) in service["SuccessExitStatus"].split(), r.stderr
    assert [b["commit"] for b in si.builds()] == [sha]
    assert spool.ids("pending") == []
    # hardening (docs/security.md): what the unit must keep, none of which blocks delivery
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "full"),
                       ("PrivateDevices", "yes"), ("RestrictSUIDSGID", "yes"),
                       ("CapabilityBoundingSet", ""), ("UMask", "0077")):  # fmt: skip
        assert service.get(key) == value, key
    assert "ProtectHome" not in service  # HOME (spool, log) must stay writable
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(UNIT.with_suffix(".timer"))
    assert timer["Timer"]["OnBootSec"] and timer["Install"]["WantedBy"] == "timers.target"


def test_rate_limit_is_waited_out_without_loss_duplicates_or_spinning(bk) -> None:  # type: ignore[no-untyped-def]
    server, si, spool, push = bk
    si.set_limits(user_limit=2, window=2)
    server.write_rc(
        bk_rc(si.api_url, extra="  autostart: false\n  token_file: ~/.buildkite-token\n").replace(
            "poll_interval: 0.05", "poll_interval: 1"
        )
    )
    shas = push("main", "release/1", "release/2", "release/3", "release/4")
    t = time.monotonic()
    r = cli(server, "deliver")
    took = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    assert sorted(b["commit"] for b in si.builds()) == sorted(shas)  # each once, none lost
    statuses = [e["status"] for e in si.received()]
    # RateLimit-Remaining: 0 on an answer pauses it before the limit is hit: no 429 at
    # all here (a deliverer that starts blind gets at most one, then waits the reset)
    assert statuses.count(201) == 5 and statuses.count(429) <= 1
    assert set(statuses) <= {201, 429}  # a 429 created nothing: no lookup needed after it
    # 5 builds at 2 per 2 s: at least two windows of waiting, slept through, not spun
    assert took >= 2
    (done,) = [ln for ln in server.log_text().splitlines() if "\tdeliverer done\t" in ln]
    fields = dict(f.split("=") for f in done.split("\t") if "=" in f)
    assert int(fields["requests"]) == len(statuses) <= 5 + 3
    assert int(fields["wakeups"]) <= 2 * float(fields["seconds"]) + 2


def test_a_429_waits_for_the_reset_it_names(bk) -> None:  # type: ignore[no-untyped-def]
    import requests

    server, si, spool, push = bk
    si.set_limits(user_limit=2, window=3)
    (sha,) = push("main")
    for _ in range(2):  # someone else used this window's budget
        requests.get(
            f"{si.api_url}/access-token", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
        )
    assert cli(server, "deliver").returncode == 0
    posts = [e for e in si.received() if e["method"] == "POST"]
    assert [e["status"] for e in posts] == [429, 201]
    assert posts[1]["time"] - posts[0]["time"] >= 1.0  # waited for RateLimit-Reset
    assert [b["commit"] for b in si.builds()] == [sha]
    (rec,) = spool.records("done")
    assert any("POST rate limited (429)" in h for h in rec["history"])


@pytest.mark.parametrize("soc", ["help", "info"])
def test_help_and_info_load_nothing_of_the_build_commands(compiled: Server, soc: str) -> None:  # noqa: F811
    r, mods = run_cli(compiled, "shell", "alice", soc=soc)
    assert r.returncode == 0, r.stderr[-2000:]
    if soc == "help":
        assert "\tbuild\n\tbuilds\n" in r.stdout
    assert "gitolite_triggers.shell.commands" in mods
    assert [
        m
        for m in mods
        if m.startswith(("gitolite_triggers.shell.cmd_build", "gitolite_triggers.buildkite"))
    ] == []
