"""Issue 12's push side, end to end through a real sshd, the wrapper and the repo hooks,
against the stand-in: fan-out, skip markers, push options (in post-receive and on the
POST_GIT path), feedback lines, the one no-build log line, and the build spooled before
the ref moves (a full spool refuses the push; a push whose post-receive never ran still
gets its build)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitolite_triggers.buildkite.spool import PREPARED, Spool
from tests.support.server import Server, make_server
from tests.support.sshd import SshClient, Sshd, SshKey, install_keys, make_key
from tests.support.sshworld import SshWorld, serve
from tests.support.standin import ORG, PIPELINE, TOKEN, bk_rc, running_standin, wait_until

ENTRY = "gitolite_triggers.buildkite.trigger:main"
CONF = """\
repo gitolite-admin
    RW+     =   admin

repo mono solo post-git full lost other
    RW+     =   alice

repo off
    RW+     =   alice
    option buildkite.enabled = 0
"""
PIPES = f"""    - repos: "mono|post-git|full|lost"
      org: {ORG}
      pipeline: {PIPELINE}
      branches: ["main"]
      env: {{DEPLOY_ENV: staging}}
      push_variables: true
    - repos: "mono|solo|off"
      org: {ORG}
      pipeline: docs
      branches: ["main", "docs/*"]
      final: true
    - repos: ".*"
      org: {ORG}
      pipeline: never
"""


class World(SshWorld):
    def __init__(self, base: Path, si: object) -> None:
        self.si = si
        self.server: Server = make_server(base / "home")
        srv = self.server
        self.keys: dict[str, SshKey] = {u: make_key(base / "keys", u) for u in ("admin", "alice")}
        (base / "admin.pub").write_text(self.keys["admin"].pub + "\n")
        assert srv.cli("setup", "-pk", str(base / "admin.pub")).returncode == 0
        token = srv.home / ".buildkite-token"
        token.write_text(TOKEN + "\n")
        token.chmod(0o600)
        srv.write_rc(
            bk_rc(si.api_url, PIPES, extra="  token_file: ~/.buildkite-token\n"),  # type: ignore[attr-defined]
            name="50-buildkite-test.yaml",
        )
        (srv.admin_base / "conf" / "gitolite.conf").write_text(CONF)
        r = srv.cli("compile")
        assert r.returncode == 0, r.stderr
        install_keys(srv, [self.keys["alice"]])
        self.sshd = Sshd(base / "sshd", home=srv.home).start()
        self.spool = Spool(srv.admin_base / "buildkite")

    def drained(self, spool: Spool | None = None) -> None:
        s = spool or self.spool
        wait_until(lambda: not s.ids("pending") and not s.holder(), timeout=30)

    def builds(self, pipeline: str, repo: str) -> list[dict]:
        return [
            b
            for b in self.si.builds(ORG, pipeline)  # type: ignore[attr-defined]
            if b["meta_data"].get("gitolite_repo") == repo
        ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_standin(pipelines=[f"{ORG}/{PIPELINE}", f"{ORG}/docs", f"{ORG}/never"]) as si:
        yield from serve(World(tmp_path_factory.mktemp("bk-push"), si))


def work(c: SshClient, repo: str, path: Path, branch: str, message: str) -> str:
    if not path.exists():
        r = c.git("clone", "-q", c.url(repo), str(path))
        assert r.returncode == 0, r.stderr
    for args in (
        ("checkout", "-q", "-B", branch),
        ("commit", "-q", "--allow-empty", "-m", message),
    ):
        subprocess.run(
            ["git", "-C", str(path), *args], check=True, capture_output=True, env=c.env()
        )
    return subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def push(c: SshClient, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return c.git("push", *args, "origin", "+HEAD", cwd=path)  # + : tests share repos


def none_lines(w: World, repo: str) -> list[str]:
    return [line for line in w.log().splitlines() if f"\tbuildkite\tnone\t{repo}\t" in line]


def test_fan_out_final_and_feedback_lines(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    sha = work(alice, "mono", tmp_path / "m", "main", "fan out")
    r = push(alice, tmp_path / "m")
    assert r.returncode == 0, r.stderr
    assert f"remote: buildkite: queued {ORG}/{PIPELINE} build for main ({sha[:7]})" in r.stderr
    assert f"remote: buildkite: queued {ORG}/docs build for main ({sha[:7]})" in r.stderr
    assert r.stderr.count("buildkite: queued") == 2  # POST_GIT stayed a silent net
    world.drained()
    a, d = world.builds(PIPELINE, "mono"), world.builds("docs", "mono")
    assert [b["commit"] for b in a] == [sha] and [b["commit"] for b in d] == [sha]
    ids = {
        a[0]["meta_data"]["gitolite_triggers_delivery_id"],
        d[0]["meta_data"]["gitolite_triggers_delivery_id"],
    }
    assert len(ids) == 2  # own delivery id per pipeline
    assert world.builds("never", "mono") == [] and world.builds("never", "solo") == []  # final
    # own branch filters: docs/* builds only in docs
    sha2 = work(alice, "mono", tmp_path / "m", "docs/intro", "docs only")
    r = push(alice, tmp_path / "m")
    assert r.returncode == 0 and r.stderr.count("buildkite: queued") == 1, r.stderr
    world.drained()
    assert [b["commit"] for b in world.builds("docs", "mono")] == [sha, sha2]
    assert len(world.builds(PIPELINE, "mono")) == 1
    # the same commit again (delete and re-push): one build per commit per pipeline
    assert alice.git("push", "-q", "origin", ":docs/intro", cwd=tmp_path / "m").returncode == 0
    r = push(alice, tmp_path / "m")
    assert r.returncode == 0 and "queued" not in r.stderr
    world.drained()
    assert len(world.builds("docs", "mono")) == 2


def test_skip_markers_and_the_no_build_log_line(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    sha = work(alice, "solo", tmp_path / "s", "main", "wip [Skip CI] please")
    r = push(alice, tmp_path / "s")
    assert r.returncode == 0, r.stderr
    assert (
        f"remote: buildkite: no build for main ({sha[:7]}): [Skip CI] in its commit message"
        in r.stderr
    )
    sha = work(alice, "solo", tmp_path / "s", "main", "also [ci skip]")
    assert push(alice, tmp_path / "s").returncode == 0
    work(alice, "solo", tmp_path / "s", "topic", "filtered branch")
    assert push(alice, tmp_path / "s").returncode == 0
    work(alice, "off", tmp_path / "o", "main", "disabled repo")
    assert push(alice, tmp_path / "o").returncode == 0
    world.drained()
    assert world.builds("docs", "solo") == [] and world.builds("docs", "off") == []
    lines = none_lines(world, "solo")
    assert len(lines) == 3, lines  # one per push, not one per registration
    assert lines[0].endswith("[Skip CI] in main") and lines[1].endswith("[ci skip] in main")
    assert lines[2].endswith(f"topic filtered by {ORG}/docs")
    assert [line.split("\t")[-1] for line in none_lines(world, "off")] == [
        "disabled (option buildkite.enabled)"
    ]


def test_push_options_skip_and_variables(world: World, tmp_path: Path) -> None:
    alice = world.client("alice")
    path = tmp_path / "m"
    work(alice, "mono", path, "main", "skipped by option")
    r = push(alice, path, "-o", "ci.skip")
    assert r.returncode == 0, r.stderr
    assert "remote: buildkite: no builds for this push (push option ci.skip)" in r.stderr
    assert none_lines(world, "mono")[-1].endswith("\tpush option ci.skip")
    sha = work(alice, "mono", path, "main", "with variables")
    many = [x for i in range(40) for x in ("-o", f"other.{i}")]
    r = push(
        alice, path,
        "-o", "ci.variable=FOO=bar baz", "-o", "ci.variable=DEPLOY_ENV=production",
        "-o", "ci.variable=1BAD=x", "-o", "ci.variable=BUILDKITE_REPO=evil",
        "-o", "ci.variable=CTL=a\tb", "-o", "ci.frobnicate", *many,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr  # bad options never refuse the push
    err = r.stderr
    assert "push option 'ci.variable=1BAD=x' ignored: use ci.variable=KEY=VALUE" in err
    assert "ci.variable=BUILDKITE_REPO ignored" in err and "control characters" in err
    assert "'ci.frobnicate' ignored: unknown" in err and "too many push options" in err
    assert f"ci.variable=DEPLOY_ENV ignored for {ORG}/{PIPELINE}: the rc sets DEPLOY_ENV" in err
    assert (
        f"push variables ignored for {ORG}/docs: its rc entry does not say push_variables: true"
        in err
    )
    world.drained()
    main = [b for b in world.builds(PIPELINE, "mono") if b["commit"] == sha]
    docs = [b for b in world.builds("docs", "mono") if b["commit"] == sha]
    assert len(main) == 1 and len(docs) == 1
    assert main[0]["env"] == {"DEPLOY_ENV": "staging", "FOO": "bar baz"}
    assert docs[0]["env"] == {}
    assert not any(b["message"] == "skipped by option" for b in world.si.builds())  # type: ignore[attr-defined]


def test_post_git_path_honours_push_options(world: World, tmp_path: Path) -> None:
    srv = world.server
    srv.write_rc(
        f"hooks:\n  post-receive:\n    - remove: {ENTRY}\n  update:\n    - remove: {ENTRY}\n",
        name="60-post-git-only.yaml",
    )
    try:
        alice = world.client("alice")
        path = tmp_path / "p"
        work(alice, "post-git", path, "main", "skip via POST_GIT")
        r = push(alice, path, "-o", "ci.skip")
        assert r.returncode == 0 and "push option ci.skip" in r.stderr, r.stderr
        sha = work(alice, "post-git", path, "main", "vars via POST_GIT")
        r = push(alice, path, "-o", "ci.variable=FROM_POST_GIT=1")
        assert r.returncode == 0 and f"queued {ORG}/{PIPELINE} build for main" in r.stderr
        world.drained()
        got = world.builds(PIPELINE, "post-git")
        assert [b["commit"] for b in got] == [sha]
        assert got[0]["env"]["FROM_POST_GIT"] == "1"
    finally:
        (srv.home / ".gitolite.rc.d" / "60-post-git-only.yaml").unlink()


def test_feedback_wait_prints_the_build_url(world: World, tmp_path: Path) -> None:
    srv = world.server
    srv.write_rc("buildkite:\n  feedback_wait: 10\n", name="60-wait.yaml")
    try:
        alice = world.client("alice")
        work(alice, "solo", tmp_path / "s", "main", "show me the url")
        r = push(alice, tmp_path / "s")
        assert r.returncode == 0, r.stderr
        url = [line for line in r.stderr.splitlines() if f"buildkite: {ORG}/docs build #" in line]
        assert len(url) == 1 and "http" in url[0], r.stderr
    finally:
        (srv.home / ".gitolite.rc.d" / "60-wait.yaml").unlink()
    world.drained()


def ls_remote(c: SshClient, repo: str) -> str:
    return c.git("ls-remote", c.url(repo), "refs/heads/main").stdout


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)], check=True
    )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_a_full_spool_refuses_the_push_and_loses_nothing(
    world: World, tmp_path: Path, small_tmpfs: Path
) -> None:
    srv = world.server
    spool_dir = small_tmpfs / "spool"
    srv.write_rc(f"buildkite:\n  spool_dir: {spool_dir}\n", name="60-spool.yaml")
    spool = Spool(spool_dir)
    spool.ensure()
    filler = small_tmpfs / "filler"
    try:
        with open(filler, "wb") as f:  # fill the disk: 1 MiB of zeros does not fit
            try:
                f.write(b"\0" * (2 << 20))
            except OSError:
                pass
        alice = world.client("alice")
        path = tmp_path / "f"
        work(alice, "full", path, "main", "first")
        before = ls_remote(alice, "full")
        sha = work(alice, "full", path, "main", "needs a build")
        r = push(alice, path)
        assert r.returncode != 0
        assert (
            "buildkite: refs/heads/main was not updated: its build could not be queued (no space left on the server)"
            in r.stderr
        )
        assert ls_remote(alice, "full") == before  # the ref did not move
        assert spool.ids(PREPARED) == [] and spool.ids("pending") == []
        assert "\tbuildkite\trefused\tfull\trefs/heads/main\t" in world.log()
        filler.unlink()
        r = push(alice, path)
        assert r.returncode == 0 and "queued" in r.stderr, r.stderr
        world.drained(spool)
        assert [b["commit"] for b in world.builds(PIPELINE, "full")][-1:] == [sha]
    finally:
        (srv.home / ".gitolite.rc.d" / "60-spool.yaml").unlink()


def test_an_accepted_push_whose_post_receive_never_ran_still_builds(
    world: World, tmp_path: Path
) -> None:
    srv = world.server
    srv.write_rc(
        f"hooks:\n  post-receive:\n    - remove: {ENTRY}\nPOST_GIT:\n  - remove: {ENTRY}\n",
        name="60-no-post.yaml",
    )
    alice = world.client("alice")
    try:
        sha = work(alice, "lost", tmp_path / "l", "main", "post-receive killed")
        assert push(alice, tmp_path / "l").returncode == 0
        # two pipelines match (the second: ".*" never): two records, both only prepared
        assert len(world.spool.ids(PREPARED)) == 2 and world.builds(PIPELINE, "lost") == []
    finally:
        (srv.home / ".gitolite.rc.d" / "60-no-post.yaml").unlink()
    # the next push to the same ref settles it in its update hook, before moving the ref on
    sha2 = work(alice, "lost", tmp_path / "l", "main", "the next push")
    assert push(alice, tmp_path / "l").returncode == 0
    world.drained()
    assert world.spool.ids(PREPARED) == []
    assert [b["commit"] for b in world.builds(PIPELINE, "lost")] == [sha, sha2]
    assert [b["commit"] for b in world.builds("never", "lost")] == [sha, sha2]
    assert "\tbuildkite\tsettled\tlost\trefs/heads/main\t" in world.log()


def test_repos_advertise_push_options(world: World) -> None:
    cfg = world.repo("mono") / "config"
    assert "advertisepushoptions = true" in cfg.read_text().lower()
    text = cfg.read_text()
    cfg.write_text("".join(x for x in text.splitlines(True) if "advertise" not in x.lower()))
    r = world.server.cli("setup", "--hooks-only")
    assert r.returncode == 0, r.stderr
    assert "advertisepushoptions = true" in cfg.read_text().lower()
    assert os.path.exists(world.repo("mono") / "hooks" / "update")
