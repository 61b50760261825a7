"""Repo-specific hooks (``option hook.<hook> = names``) through real pushes (repohooks.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.pushside import ours
from tests.support.server import Server
from tests.test_vref_push import compile_conf

LOG_IT = """#!/bin/sh
out="$GL_REPO_BASE/../hooklog"
printf '%s %s repo=%s user=%s args=%s pwd=%s\\n' "$(basename "$0")" "$HOOK" "$GL_REPO" "$GL_USER" "$*" "$(basename "$PWD")" >> "$out"
cat | sed 's/^/  stdin: /' >> "$out"
"""
DENY = "#!/bin/sh\necho 'no pushes today' >&2\nexit 5\n"


def _local(server: Server) -> Path:
    local = server.home / "local"
    folder = local / "hooks" / "repo-specific"
    folder.mkdir(parents=True)
    for name, text in (("log-it", LOG_IT), ("log-too", LOG_IT), ("deny", DENY)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    (folder / "escape").symlink_to("/bin/true")
    server.write_rc(f"LOCAL_CODE: {local}\n")
    return local


def _log(server: Server) -> str:
    p = server.home / "hooklog"
    return p.read_text() if p.exists() else ""


def test_repo_specific_hooks_run_in_order_with_gits_input(server: Server, tmp_path: Path) -> None:
    _local(server)
    compile_conf(
        server,
        "repo foo bar\n  RW+ = u1\nrepo foo\n  option hook.post-receive = log-it log-too\n"
        "  option hook.post-update.x = log-it\n  option hook.pre-auto-gc = log-it\n",
    )
    side = ours(server, tmp_path / "w")
    new = side.commit("foo", {"a": b"1"})
    assert side.push("foo", "u1").returncode == 0
    lines = _log(server).splitlines()
    assert lines[0] == "log-it  repo=foo user=u1 args= pwd=foo.git"
    assert lines[1] == f"  stdin: {'0' * 40} {new} refs/heads/master"
    assert lines[2] == "log-too  repo=foo user=u1 args= pwd=foo.git"
    assert lines[4] == "log-it  repo=foo user=u1 args=refs/heads/master pwd=foo.git"
    assert len(lines) == 5  # post-update gets no stdin; pre-auto-gc is not one of ours
    side.commit("bar", {"a": b"1"})
    assert side.push("bar", "u1").returncode == 0 and len(_log(server).splitlines()) == 5

    # a pre-receive that fails rejects the push; the option change counts from the next compile
    compile_conf(server, "repo foo bar\n  RW+ = u1\nrepo foo\n  option hook.pre-receive = deny\n")
    side.commit("foo", {"b": b"2"})
    p = side.push("foo", "u1")
    assert p.returncode != 0 and "no pushes today" in p.stderr
    assert len(_log(server).splitlines()) == 5  # the post-receive options are gone
    compile_conf(server, "repo foo bar\n  RW+ = u1\n")
    assert side.push("foo", "u1").returncode == 0


def test_bad_names_fail_closed_in_pre_receive(server: Server, tmp_path: Path) -> None:
    _local(server)
    side = ours(server, tmp_path / "w")
    for name in ("escape", "missing", "..", "../deny"):
        compile_conf(server, f"repo foo\n  RW+ = u1\n  option hook.pre-receive = {name}\n")
        side.commit("foo", {"a": name.encode()})
        p = side.push("foo", "u1")
        assert p.returncode != 0, name
        assert f"repo-specific pre-receive hook '{name}'" in p.stderr, (name, p.stderr)
    compile_conf(server, "repo foo\n  RW+ = u1\n  option hook.post-receive = missing log-it\n")
    p = side.push("foo", "u1")  # post-receive: reported, the rest still runs
    assert p.returncode == 0 and "'missing'" in p.stderr
    assert _log(server).startswith("log-it ")


def test_admin_repo_post_update_is_never_repo_specific(server: Server, tmp_path: Path) -> None:
    from gitolite_triggers import repohooks
    from gitolite_triggers.rc import load_rc

    _local(server)
    compile_conf(server, "repo gitolite-admin\n  RW+ = admin\n  option hook.post-update = log-it\n")
    rc = load_rc()
    assert repohooks.names_for(rc, "gitolite-admin", "post-update") == ["log-it"]
    assert (
        repohooks.run(rc, "post-update", "gitolite-admin", "admin", ["refs/heads/master"], b"") == 0
    )
    assert _log(server) == ""


def test_same_runs_as_gitolite3(server: Server, tmp_path: Path) -> None:
    """gitolite3 with its repo-specific-hooks feature and ours, the same conf, hooks and
    pushes: the same programs run, in the same order, with the same arguments and input,
    and a failing pre-receive rejects the push on both."""
    from tests.support.gitolite_ref import GitoliteRef, require_gitolite
    from tests.support.pushside import theirs

    require_gitolite()
    ref = GitoliteRef(tmp_path / "gitolite-home")
    ref.setup()
    rc = (ref.home / ".gitolite.rc").read_text()
    rc = rc.replace(
        '# LOCAL_CODE                =>  "$ENV{HOME}/local",',
        'LOCAL_CODE => "$ENV{HOME}/local",',
        1,
    )
    rc = rc.replace("# 'repo-specific-hooks',", "'repo-specific-hooks',", 1)
    (ref.home / ".gitolite.rc").write_text(rc)
    hook = (
        "#!/bin/sh\n"
        'printf "%s %s\\n" "$(basename "$0" | sed "s/^.*-//")" "$*" >> "$HOME/hooklog"\n'
        '[ "$(basename "$0")" = "${0##*/}" ] && cat | sed "s/^/  in: /" >> "$HOME/hooklog"\n'
        'case "$0" in *stop*) echo stopped >&2; exit 3;; esac\n'
    )
    for home in (ref.home, server.home):
        folder = home / "local" / "hooks" / "repo-specific"
        folder.mkdir(parents=True)
        for name in ("one", "two", "stop"):
            (folder / name).write_text(hook)
            (folder / name).chmod(0o755)
    server.write_rc(f"LOCAL_CODE: {server.home / 'local'}\n")
    conf = (
        "repo gitolite-admin\n  RW+ = admin\nrepo foo bar\n  RW+ = u1\nrepo foo\n"
        "  option hook.post-receive = one two\n  option hook.post-update.x = two\n"
        "  option hook.post-receive.z = one\nrepo bar\n  option hook.pre-receive = two stop\n"
    )
    ref.write_conf(conf)
    ref.compile()
    ref.run("trigger", "POST_COMPILE")
    compile_conf(server, conf)
    logs = []
    for side, home in (
        (theirs(ref, tmp_path / "wt"), ref.home),
        (ours(server, tmp_path / "wo"), server.home),
    ):
        outcomes = []
        for repo in ("foo", "bar", "foo"):
            side.commit(repo, {"a": repo.encode()})
            p = side.push(repo, "u1")
            outcomes.append((p.returncode == 0, "stopped" in p.stderr))
        logs.append((outcomes, (home / "hooklog").read_text()))
    assert logs[0] == logs[1]
    assert logs[1][0] == [(True, False), (False, True), (True, False)]
    assert logs[1][1].count("one \n") == 4 and "two refs/heads/master\n" in logs[1][1]


def test_hanging_repo_hook_is_killed_at_its_timeout(server: Server, tmp_path: Path) -> None:
    """A repo-specific pre-receive hook that hangs is killed (its process group) at the
    hook's TRIGGER_TIMEOUTS figure and refuses the push."""
    import time

    local = _local(server)
    slow = local / "hooks" / "repo-specific" / "slow"
    slow.write_text("#!/bin/sh\nsleep 30 &\nwait\n")
    slow.chmod(0o755)
    server.write_rc(f"LOCAL_CODE: {local}\nTRIGGER_TIMEOUTS: {{pre-receive: 1}}\n")
    compile_conf(server, "repo foo\n  RW+ = u1\n  option hook.pre-receive = slow\n")
    side = ours(server, tmp_path / "w")
    side.commit("foo", {"a": b"1"})
    started = time.monotonic()
    p = side.push("foo", "u1")
    assert time.monotonic() - started < 15
    assert p.returncode != 0 and "hook 'slow' timed out after 1s" in p.stderr
