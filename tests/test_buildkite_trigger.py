"""The trigger program on real pushes (local push through the real repo hooks): which refs
build, the payload (validated against the Create-a-build request schema, reference A.7),
and one record per (repo, ref, new commit) whichever registrations fire."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import jsonschema
import pytest

from gitolite_triggers.buildkite.spool import Spool, delivery_id
from gitolite_triggers.rc import load_rc
from gitolite_triggers.repos import init_bare
from tests.support.server import Server
from tests.support.standin import WorkTree, bk_rc

# Reference A.7, strict profile (our payloads), verbatim in substance.
REQUEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["commit", "branch"],
    "additionalProperties": False,
    "properties": {
        "commit": {
            "type": "string",
            "minLength": 1,
            "pattern": "^([0-9a-f]{40}|[0-9a-f]{64})$",
            "not": {"pattern": "^0+$"},
        },
        "branch": {
            "type": "string",
            "minLength": 1,
            "not": {"anyOf": [{"pattern": "^refs/"}, {"const": "HEAD"}]},
        },
        "message": {"type": "string"},
        "author": {
            "type": "object",
            "required": ["name", "email"],
            "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
        },
        "env": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        },
        "meta_data": {"type": "object", "additionalProperties": {"type": "string"}},
        "clean_checkout": {"type": "boolean"},
        "ignore_pipeline_branch_filters": {"type": "boolean"},
        "pull_request_base_branch": {"type": "string", "minLength": 1},
        "pull_request_id": {"type": "integer", "minimum": 1},
        "pull_request_labels": {"type": "array", "items": {"type": "string"}},
        "pull_request_repository": {"type": "string", "minLength": 1},
    },
}
POST_RECEIVE_ENTRY = "gitolite_triggers.buildkite.trigger:main"
PIPES = """    - repos: "foo|apps/.*"
      org: example-org
      pipeline: git-pipeline-demo
      branches: ["main", "release/*"]
      env: {DEPLOY_ENV: staging}
      meta_data: {team: core}
      clean_checkout: true
      ignore_pipeline_branch_filters: true
    - repos: tagged
      org: example-org
      pipeline: tagged
      tags: ["v*"]
"""


def pending(server) -> list[dict]:
    return sorted(
        Spool(server.admin_base / "buildkite").records("pending"),
        key=lambda r: (r["repo"], r["ref"]),
    )


@pytest.fixture
def setup(server, tmp_path):
    # autostart off: these tests look at the spool, not at delivery
    server.write_rc(bk_rc("http://127.0.0.1:9/v2", PIPES, extra="  autostart: false\n"))
    rc = load_rc()
    repos = {name: init_bare(rc, name) for name in ("foo", "tagged", "other")}
    wt = WorkTree(tmp_path / "wt", server.env)
    return server, repos, wt


def test_payload_comes_from_the_pushed_commit_and_is_valid_json(setup):
    server, repos, wt = setup
    main_sha = wt.commit("main work", "Main Person <main@example.com>")
    assert wt.push(repos["foo"], "main").returncode == 0
    wt.git("checkout", "-q", "-b", "release/1")
    msg = 'Fix "quoted" thing\n\nline two with a \\ backslash, a tab\tand ünïcødé 🚀'
    rel_sha = wt.commit(msg, 'Rel "Q" Person <rel@example.com>')
    r = wt.push(repos["foo"], "release/1")
    assert r.returncode == 0, r.stderr
    recs = pending(server)
    assert [r["ref"] for r in recs] == ["refs/heads/main", "refs/heads/release/1"]
    for rec in recs:
        jsonschema.validate(rec["body"], REQUEST_SCHEMA)
        assert rec["id"] == delivery_id(
            "foo", rec["ref"], rec["new"], "example-org/git-pipeline-demo"
        )
        assert rec["body"]["meta_data"]["gitolite_triggers_delivery_id"] == rec["id"]
        json.loads(json.dumps(rec["body"]))
    main, rel = recs
    assert main["body"]["commit"] == main_sha and main["body"]["branch"] == "main"
    assert main["body"]["author"] == {"name": "Main Person", "email": "main@example.com"}
    # HEAD of the bare repo is main: the seed's script would have sent main's message here
    assert rel["body"]["commit"] == rel_sha and rel["body"]["branch"] == "release/1"
    assert rel["body"]["message"] == msg
    assert rel["body"]["author"] == {"name": 'Rel "Q" Person', "email": "rel@example.com"}
    assert rel["body"]["env"] == {"DEPLOY_ENV": "staging"}
    assert (
        rel["body"]["meta_data"]["team"] == "core"
        and rel["body"]["meta_data"]["gitolite_repo"] == "foo"
    )
    assert (
        rel["body"]["clean_checkout"] is True
        and rel["body"]["ignore_pipeline_branch_filters"] is True
    )


def test_deletes_other_branches_and_tags_do_not_build(setup):
    server, repos, wt = setup
    wt.commit("one")
    wt.git("tag", "-a", "-m", "tag", "v1")
    wt.git("branch", "topic")
    wt.git("branch", "release/2")
    assert wt.push(repos["foo"], "main", "topic", "release/2", "v1").returncode == 0
    assert [r["ref"] for r in pending(server)] == ["refs/heads/main", "refs/heads/release/2"]
    Spool(server.admin_base / "buildkite").path("pending", pending(server)[1]["id"]).unlink()
    assert wt.push(repos["foo"], ":release/2").returncode == 0  # a delete: never a build
    assert [r["ref"] for r in pending(server)] == ["refs/heads/main"]
    assert wt.push(repos["other"], "main").returncode == 0  # no pipeline matches "other"
    assert [r["repo"] for r in pending(server)] == ["foo"]


def test_tags_build_where_configured_as_the_peeled_commit(setup):
    server, repos, wt = setup
    sha = wt.commit("tagged commit")
    wt.git("tag", "-a", "-m", "annotated", "v1.0")
    wt.git("tag", "x1")
    assert wt.push(repos["tagged"], "main", "v1.0", "x1").returncode == 0
    recs = [r for r in pending(server) if r["repo"] == "tagged"]
    assert [r["ref"] for r in recs] == ["refs/heads/main", "refs/tags/v1.0"]
    tag = recs[1]
    assert tag["body"]["branch"] == "v1.0" and tag["body"]["commit"] == sha
    assert tag["new"] != sha  # the annotated tag object was pushed; its commit is built
    jsonschema.validate(tag["body"], REQUEST_SCHEMA)


def fire_post_git(
    server: Server, aa: str, verb: str, tid: str, cpu: str = "0"
) -> subprocess.CompletedProcess[str]:
    """POST_GIT for alice on foo, fired by hand the way the wrapper fires it."""
    return server.cli(
        "trigger", "POST_GIT", "foo", "alice", aa, "any", verb, cpu, "0", "0", "0",
        extra_env={"GL_TID": tid},
    )  # fmt: skip


def test_repeat_registrations_and_repeat_pushes_make_one_record(setup):
    server, repos, wt = setup
    # register also on the update hook and as the built-in script: four ways for one push
    server.write_rc(
        "hooks:\n  update:\n    - buildkite\n  post-receive:\n    - buildkite\nPOST_GIT:\n  - buildkite\n",
        name="30-more.yaml",
    )
    sha = wt.commit("once")
    tid = "tid-repeat"
    assert wt.push(repos["foo"], "main", env={"GL_TID": tid}).returncode == 0
    for _ in range(2):  # POST_GIT as the wrapper fires it, twice (both entries each time)
        r = fire_post_git(server, "W", "git-receive-pack", tid, cpu="0.1")
        assert r.returncode == 0, r.stderr
    recs = pending(server)
    assert len(recs) == 1 and recs[0]["new"] == sha
    assert recs[0]["source"] == "update"  # the first registration to fire wrote it
    log = (server.admin_base / "logs").glob("*.log")
    assert sum(line.count("\tqueued\t") for f in log for line in f.read_text().splitlines()) == 1


def test_post_git_reads_the_push_record_and_ignores_fetches(setup):
    server, repos, wt = setup
    server.write_rc(
        f"hooks:\n  post-receive:\n    - remove: {POST_RECEIVE_ENTRY}\n"
        f"  update:\n    - remove: {POST_RECEIVE_ENTRY}\n",
        name="30-only-post-git.yaml",
    )
    wt.commit("via post_git")
    assert wt.push(repos["foo"], "main", env={"GL_TID": "t1"}).returncode == 0
    assert pending(server) == []  # only POST_GIT is registered now
    r = fire_post_git(server, "R", "git-upload-pack", "t1")
    assert r.returncode == 0 and pending(server) == []
    r = fire_post_git(server, "W", "git-receive-pack", "other-session")
    assert r.returncode == 0 and pending(server) == []
    r = fire_post_git(server, "W", "git-receive-pack", "t1")
    assert r.returncode == 0, r.stderr
    recs = pending(server)
    assert len(recs) == 1 and recs[0]["source"] == "POST_GIT" and recs[0]["user"] == "alice"
    assert recs[0]["body"]["meta_data"]["gitolite_user"] == "alice"


def test_inert_without_a_pipeline(server, tmp_path):
    rc = load_rc()  # shipped rc.d: registered, but no pipelines
    repo = init_bare(rc, "foo")
    wt = WorkTree(tmp_path / "wt", server.env)
    wt.commit("x")
    t = time.monotonic()
    r = wt.push(repo, "main")
    assert r.returncode == 0 and r.stderr == ""
    assert not (server.admin_base / "buildkite").exists()
    assert time.monotonic() - t < 5


def test_push_path_imports_no_heavy_modules(setup):
    server, repos, wt = setup
    sha = wt.commit("light")
    assert wt.push(repos["foo"], "main").returncode == 0
    spool = Spool(server.admin_base / "buildkite")
    (rid,) = spool.ids("pending")
    spool.path("pending", rid).unlink()  # so the run below really spools again
    server.cli("rc", "show")  # a warm rc cache, as on a live server
    code = (
        "import sys\n"
        "from gitolite_triggers.buildkite.trigger import main\n"
        "main([])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('requests', 'yaml', 'jsonschema', 'urllib3')))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        input=f"{'0' * 40} {sha} refs/heads/main\n",
        env={**server.env, "GL_REPO": "foo"},
        capture_output=True,
        text=True,
        cwd=server.home,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
    assert spool.ids("pending") == [rid]


def test_a_push_of_many_refs_is_one_quick_spool_pass(setup):
    server, repos, wt = setup
    shas = {}
    for i in range(60):
        shas[f"release/{i:02d}"] = wt.commit(f"many {i}")
        wt.git("branch", f"release/{i:02d}")
    wt.git("tag", "v-not-built")  # tags are off for foo
    assert wt.push(repos["foo"], "--all").returncode == 0
    recs = pending(server)
    assert {r["body"]["branch"]: r["body"]["commit"] for r in recs} == {
        **shas,
        "main": shas["release/59"],
    }
    assert all(
        r["body"]["message"] == f"many {int(r['body']['branch'][8:])}"
        for r in recs
        if r["body"]["branch"] != "main"
    )
    lines = [
        ln
        for f in (server.admin_base / "logs").glob("*.log")
        for ln in f.read_text().splitlines()
        if "\ttrigger\tpost-receive\t" in ln
    ]
    (line,) = lines
    assert int(line.rsplit("\t", 1)[1].rstrip("ms")) < 3000, line  # 61 records: 2 git runs, not 61
