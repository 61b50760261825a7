"""Issue 11's take-over path: ``rc import``, ``migrate`` (against Debian's gitolite3),
``setup -a``, the "Initialized empty Git repository" line and ``access --batch``'s creator."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.support.gitolite_ref import require_gitolite
from tests.support.server import Server

PERL_RC = """\
%RC = (
    UMASK => 0027,
    GIT_CONFIG_KEYS => 'hooks\\..* foo\\.bar',
    LOG_EXTRA => 1,
    ROLES => { READERS => 1, WRITERS => 1, MANAGERS => 1 },
    LOCAL_CODE => "$ENV{HOME}/local",
    CACHE => 'redis',
    ENABLE => [ 'help', 'info', 'perms', 'ssh-authkeys', 'git-config', 'gitweb',
                'Mirroring', 'no-sucn-command' ],
    POST_COMPILE => [ 'site-trigger' ],
    ACCESS_1 => [ 'Some::perl_function' ],
    INPUT => [ 'Alias::input' ],
    PRE_GIT => [ 'no-such-program arg' ],
);
1;
"""


def _local_trigger(home: Path, name: str = "site-trigger") -> None:
    prog = home / "local" / "triggers" / name
    prog.parent.mkdir(parents=True, exist_ok=True)
    prog.write_text('#!/bin/sh\necho "$0 $*" >> "$HOME/trigger.log"\n')
    prog.chmod(0o755)


def test_rc_import_maps_keys_and_names_what_it_cannot(server: Server) -> None:
    _local_trigger(server.home)
    perl_rc = server.home / ".gitolite.rc"
    perl_rc.write_text(PERL_RC)
    r = server.cli("rc", "import", str(perl_rc))
    assert r.returncode == 0, r.stdout + r.stderr
    main = yaml.safe_load(server.rc_file.read_text())
    assert main["UMASK"] == "0027"
    assert main["GIT_CONFIG_KEYS"] == "hooks\\..* foo\\.bar"
    assert main["ROLES"] == ["MANAGERS", "READERS", "WRITERS"]
    assert main["LOCAL_CODE"] == f"{server.home}/local"
    frag = yaml.safe_load((server.rc_d / "60-imported.yaml").read_text())
    assert "site-trigger" in frag["POST_COMPILE"]
    # daemon is not ENABLE'd: the shipped lists lose its program
    assert {"remove": "post-compile/update-git-daemon-access-list"} in frag["POST_COMPILE"]
    assert {"remove": "post-compile/update-git-daemon-access-list"} in frag["POST_CREATE"]
    from gitolite_triggers.rc.validate import schema

    if "COMMANDS" in schema()["properties"]:  # the enabled commands, then ours gitolite lacks
        assert main["COMMANDS"] == ["help", "info", "perms", "no-sucn-command", "builds", "build"]
    else:
        assert "not carried over: ENABLE no-sucn-command: " in r.stderr
    for name in (
        "LOG_EXTRA",
        "CACHE",
        "ENABLE Mirroring",
        "ACCESS_1: Some::perl_function",
        "INPUT: Alias::input",
        "PRE_GIT: no-such-program arg",
    ):
        assert f"not carried over: {name}: " in r.stderr, name
    shown = server.cli("rc", "show", "POST_COMPILE").stdout
    assert "site-trigger" in shown and "update-git-daemon-access-list" not in shown
    assert "update-gitweb-access-list" in shown
    assert server.cli("rc", "show", "UMASK").stdout.strip() == "0027"

    # repeatable: edit the Perl rc, import again; an overlay (gitolite's G3T_RC) applies last
    perl_rc.write_text(PERL_RC.replace("0027", "0077"))
    overlay = server.home / "g3trc"
    overlay.write_text("$rc{GIT_CONFIG_KEYS} = 'foo\\.bar';\n")
    r = server.cli("rc", "import", "-q", str(perl_rc), "--also", str(overlay))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert server.cli("rc", "show", "UMASK").stdout.strip() == "0077"
    assert server.cli("rc", "show", "GIT_CONFIG_KEYS").stdout.strip() == "foo\\.bar"


def test_rc_import_refuses_a_broken_rc_and_never_runs_it_as_code_text(server: Server) -> None:
    weird = server.home / "it's; $(touch pwned).rc"
    weird.write_text("%RC = ( UMASK => 0077 ;\n")  # a Perl syntax error
    r = server.cli("rc", "import", str(weird))
    assert r.returncode == 1
    assert "perl could not evaluate it" in r.stderr
    assert not (server.home / "pwned").exists()
    assert not server.rc_file.exists() or "rc import" not in server.rc_file.read_text()


def test_setup_dash_a_names_the_admin_without_a_key(server: Server) -> None:
    r = server.cli("setup", "-a", "boss")
    assert r.returncode == 0, r.stderr
    assert "RW+     =   boss" in (server.admin_base / "conf" / "gitolite.conf").read_text()
    assert not any((server.admin_base / "keydir").iterdir())
    assert server.cli("access", "-q", "gitolite-admin", "boss", "W").returncode == 0
    # the compile created testing.git and said so as git does (gitolite shows git's line)
    assert f"Initialized empty Git repository in {server.repo_base}/testing.git/" in r.stderr
    bad = server.cli("setup", "-a", "not a name")
    assert bad.returncode == 1 and "not a valid user name" in bad.stderr


def test_access_batch_answers_a_missing_repo_as_its_would_be_creator(server: Server) -> None:
    assert server.cli("setup", "-a", "admin").returncode == 0
    conf = server.admin_base / "conf" / "gitolite.conf"
    conf.write_text(conf.read_text() + "repo u/CREATOR/..*\n    C = @all\n    RW+ = CREATOR\n")
    assert server.cli("compile").returncode == 0
    # ^C: may USER create it (gitolite's access doc); CREATOR in the name is the line's user
    lines = "u/alice/x alice ^C\nu/alice/x bob ^C\nu/bob/y bob ^C\n"
    r = server.cli("access", "--batch", input=lines)
    got = [line.split("\t")[0] for line in r.stdout.splitlines()]
    single = [
        server.cli("access", "-q", repo, user, perm, extra_env={"GL_USER": user}).returncode
        for repo, user, perm in (x.split() for x in lines.splitlines())
    ]
    assert got == ["0", "1", "0"]
    assert [int(x) for x in got] == single


# -- migrate: Debian's gitolite3 in a temp HOME, probed before and after --------------------


def _env(home: Path) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("GL_", "GIT_", "SSH_", "G3T_"))
    }
    return {**base, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}


def _run(argv: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]


def _shell_gitolite(env: dict[str, str], user: str, soc: str) -> list[str]:
    """gitolite-shell in its file:// test mode (G3T_USER), as gitolite's t/glt runs it."""
    return [
        "env",
        f"G3T_USER={user}",
        f"SSH_ORIGINAL_COMMAND={soc}",
        "/usr/share/gitolite3/gitolite-shell",
        user,
    ]


def _shell_ours(server: Server, user: str, soc: str) -> list[str]:
    import sys

    return [
        "env",
        f"SSH_ORIGINAL_COMMAND={soc}",
        sys.executable,
        "-m",
        "gitolite_triggers",
        "shell",
        user,
    ]


def _pack_wrapper(tmp: Path, name: str, argv_head: list[str]) -> Path:
    """A --receive-pack/--upload-pack program: the repo from git's argument into the SOC."""
    w = tmp / name
    quoted = " ".join(f"'{a}'" for a in argv_head)
    w.write_text(
        "#!/bin/sh\nrepo=$(echo \"$1\" | sed -e 's,^/,,' -e 's,\\.git$,,')\n"
        f'G3T_USER="$GLUSER" SSH_ORIGINAL_COMMAND="$GLPACK \'$repo\'" exec {quoted} "$GLUSER"\n'
    )
    w.chmod(0o755)
    return w


def test_migrate_a_gitolite3_home_gives_the_same_answers(tmp_path: Path, server: Server) -> None:
    require_gitolite()
    import sys

    home = server.home  # the conftest's sandbox: our CLI and gitolite3 share it
    env = _env(home)
    for k in ("user.name", "user.email"):
        _run(["git", "config", "--global", k, "t@example.com"], env)
    import shutil

    server.rc_file.unlink(missing_ok=True)
    shutil.rmtree(server.rc_d, ignore_errors=True)  # a plain gitolite3 home
    assert _run(["gitolite", "setup", "-a", "admin"], env).returncode == 0
    _local_trigger(home, "site-log")
    common = home / "local" / "hooks" / "common"
    common.mkdir(parents=True)
    (common / "post-receive").write_text('#!/bin/sh\necho "site post-receive" >&2\n')
    (common / "post-receive").chmod(0o755)
    rc = (home / ".gitolite.rc").read_text()
    rc = rc.replace(
        '# LOCAL_CODE                =>  "$ENV{HOME}/local",',
        'LOCAL_CODE => "$ENV{HOME}/local",\n    POST_CREATE => ["site-log"],',
        1,
    )
    assert "POST_CREATE" in rc
    (home / ".gitolite.rc").write_text(rc)
    conf = home / ".gitolite" / "conf" / "gitolite.conf"
    conf.write_text(
        conf.read_text()
        + "repo foo/CREATOR/..*\n    C = alice bob\n    RW+ = CREATOR\n    RW = WRITERS\n    R = READERS\n"
        + "repo plain\n    RW = bob\n    RW+ = alice\n    R = @all\n"
    )
    assert _run(["gitolite", "setup"], env).returncode == 0
    gl = lambda user, soc: _run(_shell_gitolite(env, user, soc), env)  # noqa: E731
    created = gl("alice", "git-upload-pack 'foo/alice/w1'")  # a wild repo by a read (C)
    assert "Initialized empty Git repository in" in created.stderr
    assert gl("alice", "perms foo/alice/w1 + READERS carol").returncode == 0
    assert gl("alice", "perms foo/alice/w1 + WRITERS bob").returncode == 0
    assert gl("alice", "desc foo/alice/w1 the first wild repo").returncode == 0
    w1 = home / "repositories" / "foo" / "alice" / "w1.git"
    kept = {n: (w1 / n).read_bytes() for n in ("gl-perms", "gl-creator", "description")}

    # a working clone to push from
    work = tmp_path / "work"
    _run(["git", "init", "-q", "-b", "master", str(work)], env)
    for i in range(2):
        (work / f"f{i}").write_text(str(i))
        _run(["git", "-C", str(work), "add", "."], env)
        _run(["git", "-C", str(work), "commit", "-qm", f"c{i}"], env)

    def probes(shell: list[str], access: list[str], tag: str) -> dict[str, object]:
        gw = _pack_wrapper(tmp_path, f"gw-{tag}", shell)
        out: dict[str, object] = {}
        for repo, user, perm in (
            [
                ("foo/alice/w1", u, p)
                for u in ("alice", "bob", "carol", "dave")
                for p in ("R", "W", "+")
            ]
            + [("plain", u, p) for u in ("alice", "bob", "dave") for p in ("R", "W", "+")]
            + [
                ("foo/bob/new", "bob", "C"),
                ("foo/bob/new", "alice", "C"),
            ]
        ):
            r = _run([*access, "-q", repo, user, perm], env)
            out[f"access {repo} {user} {perm}"] = r.returncode

        def push(user: str, repo: str, *args: str) -> int:
            penv = {**env, "GLUSER": user, "GLPACK": "git-receive-pack"}
            return _run(
                [
                    "git",
                    "-C",
                    str(work),
                    "push",
                    "-q",
                    f"--receive-pack={gw}",
                    f"file:///{repo}",
                    *args,
                ],
                penv,
            ).returncode

        # ssh commands: perms -l (same text) and info's repo lines (its first line names
        # the program and its version, so it differs by design)
        for user in ("alice", "carol"):
            r = _run(
                [
                    "env",
                    f"G3T_USER={user}",
                    "SSH_ORIGINAL_COMMAND=perms foo/alice/w1 -l",
                    *shell,
                    user,
                ],
                env,
            )
            out[f"perms REPO -l {user}"] = (r.returncode == 0, r.stdout)  # gitolite dies 25
            r = _run(["env", f"G3T_USER={user}", "SSH_ORIGINAL_COMMAND=info", *shell, user], env)
            out[f"info {user}"] = (r.returncode, [x for x in r.stdout.splitlines() if "\t" in x])
        out["push bob plain"] = push("bob", "plain", f"HEAD:refs/heads/{tag}")
        out["push bob plain rewind"] = push("bob", "plain", f"+HEAD~1:refs/heads/{tag}")
        out["push alice plain rewind"] = push("alice", "plain", f"+HEAD~1:refs/heads/{tag}")
        out["push dave plain"] = push("dave", "plain", f"HEAD:refs/heads/{tag}-d")
        out["push bob w1 (WRITERS)"] = push("bob", "foo/alice/w1", f"HEAD:refs/heads/{tag}")
        out["push carol w1 (READERS)"] = push("carol", "foo/alice/w1", f"HEAD:refs/heads/{tag}")
        return out

    before = probes(["/usr/share/gitolite3/gitolite-shell"], ["gitolite", "access"], "gl")
    assert before["push bob plain"] == 0 and before["push bob plain rewind"] != 0

    def state() -> dict[str, str]:
        """Every path under HOME: its link target or its content's hash."""
        import hashlib

        out = {}
        for p in sorted(home.rglob("*")):
            if p.is_symlink():
                out[str(p)] = "-> " + os.readlink(p)
            elif p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[str(p)] = "dir"
        return out

    seen = state()
    dry = _run([sys.executable, "-m", "gitolite_triggers", "migrate", "--dry-run"], env, input="")
    assert dry.returncode == 0 and "plan:" in dry.stdout, dry.stderr
    assert "not carried over: LOG_EXTRA" in dry.stderr
    assert state() == seen  # --dry-run changes nothing
    r = _run([sys.executable, "-m", "gitolite_triggers", "migrate"], env, input="")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not carried over: LOG_EXTRA" in r.stderr
    after = probes(
        [sys.executable, "-m", "gitolite_triggers", "shell"],
        [sys.executable, "-m", "gitolite_triggers", "access"],
        "ours",
    )
    assert before["info alice"][1] and before["perms REPO -l alice"][1]  # the probes say something
    assert after == before
    assert {n: (w1 / n).read_bytes() for n in kept} == kept
    # LOCAL_CODE's common post-receive still runs (now from the rc's hooks list), and our
    # forced command is what authorized_keys would run
    assert os.readlink(w1 / "hooks" / "update") == str(
        home / ".gitolite" / "hooks" / "common" / "update"
    )
    # a wild repo created through ours fires the site's POST_CREATE trigger and says so
    made = _run(_shell_ours(server, "bob", "git-upload-pack 'foo/bob/made'"), env, input="")
    assert (
        f"Initialized empty Git repository in {home}/repositories/foo/bob/made.git/" in made.stderr
    )
    log = (home / "trigger.log").read_text()
    assert "site-log POST_CREATE foo/alice/w1 alice" in log  # gitolite's, before
    assert "site-log POST_CREATE foo/bob/made bob" in log  # ours, after
    # the backup holds what was replaced, and --rollback puts gitolite's hooks back
    backups = list((home / ".gitolite-migrate").iterdir())
    assert len(backups) == 1 and (backups[0] / "gitolite.rc").read_text() == rc
    rb = _run(
        [sys.executable, "-m", "gitolite_triggers", "migrate", "--rollback", str(backups[0])], env
    )
    assert rb.returncode == 0, rb.stderr
    assert not (w1 / "hooks" / "post-receive").exists() or os.readlink(
        w1 / "hooks" / "post-receive"
    ) == str(common / "post-receive")
    assert _run(["gitolite", "setup"], env).returncode == 0
    assert _run(["gitolite", "access", "-q", "plain", "bob", "W"], env).returncode == 0
