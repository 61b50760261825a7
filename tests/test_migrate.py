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
                'Mirroring', 'no-sucn-command', 'set-default-roles', 'repo-specific-hooks',
                'sskm', 'hello' ],
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
    site_cmd = server.home / "local" / "commands" / "hello"  # a site command: carried
    site_cmd.parent.mkdir(parents=True)
    site_cmd.write_text("#!/bin/sh\necho hello\n")
    site_cmd.chmod(0o755)
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
        assert main["COMMANDS"] == ["help", "info", "perms", "hello", "builds", "build"]
    assert "not carried over: ENABLE no-sucn-command: the ssh command " in r.stderr
    assert "not carried over: ENABLE sskm: " in r.stderr and "keydir/" in r.stderr
    # set-default-roles is our POST_CREATE program; repo-specific-hooks needs only the folder
    assert "set-default-roles" in frag["POST_CREATE"]
    assert "carried over: ENABLE set-default-roles (POST_CREATE: set-default-roles)" in r.stdout
    assert "carried over: ENABLE repo-specific-hooks (on while LOCAL_CODE/hooks/" in r.stdout
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


# A realistic site: LOCAL_CODE (a trigger, a common hook, a VREF helper, a repo-specific
# hook), built-in VREFs, wild repos with roles and default roles, the ENABLE'd commands, a
# subconf. The same probes before (gitolite3) and after (ours); stateful actions on twin
# repos (named with the phase's tag), compared with the tag taken out.
SITE_CONF = """\
@team = team-a team-b
repo foo/CREATOR/..*
    C = alice bob
    RW+ = CREATOR
    RW = WRITERS
    R = READERS
    option default.roles-1 = READERS @all
repo plain
    RW = bob
    RW+ = alice
    R = @all
    option hook.post-receive = note-push
repo vrefs
    RW+ = alice bob
    - VREF/NAME/secret/ = @all
    - VREF/COUNT/3 = bob
    - VREF/MAX_NEWBIN_SIZE/1000 = @all
    - VREF/SITE/blocked = @all
subconf "subs/*.conf"
"""
TEAM_CONF = "repo team-a\n    RW = carol\n    R = dave\n"
SITE_ENABLE = ("D", "create", "fork", "symbolic-ref", "set-default-roles", "repo-specific-hooks")
GITOLITE_SHELL = "/usr/share/gitolite3/gitolite-shell"
ACCESS = [
    (repo, user, perm)
    for repo in ("foo/alice/w1", "plain", "vrefs", "team-a", "team-b", "foo/bob/new")
    for user in ("alice", "bob", "carol", "dave")
    for perm in ("R", "W", "+", "C")
]
CLI = [
    "query-rc GL_REPO_BASE",
    "query-rc LOCAL_CODE",
    "query-rc -q COMMANDS fork",
    "query-rc -q COMMANDS nosuch",
    "query-rc ROLES",
    "list-repos",
    "list-users",
    "list-memberships -u carol",
    "list-memberships -r team-a",
    "list-members @team",
    "git-config plain gitolite-options.hook.post-receive",
    "git-config -n -r foo/alice/w1 default",
    "access plain dave W",
    "access -s vrefs bob W",
    "access team-a carol W refs/heads/x",
    "access -q team-b carol W",
]
BATCH = "plain alice +\nplain dave W\nteam-a carol W\nfoo/alice/w1 carol R\n"


def _site_files(home: Path) -> None:
    """LOCAL_CODE: a trigger, a common post-receive, a VREF helper, a repo-specific hook."""
    local = home / "local"
    files = {
        "triggers/site-log": 'echo "$0 $*" >> "$HOME/trigger.log"',
        # post-update: gitolite's link of a common post-receive would replace the repo-specific
        # hook driver's (gitolite then runs only the common one; docs/migrate.md)
        "hooks/common/post-update": 'echo "site post-update $GL_REPO $*"',
        # gitolite's VREF arguments: ref old new oldtree newtree perm refex; prints vrefs
        "VREF/SITE": 'case "$1" in *blocked) echo "VREF/SITE/blocked";; esac',
        "hooks/repo-specific/note-push": 'while read o n r; do echo "$GL_REPO $GL_USER $r" >> "$HOME/rsh.log"; done',
    }
    for rel, body in files.items():
        prog = local / rel
        prog.parent.mkdir(parents=True, exist_ok=True)
        prog.write_text(f"#!/bin/sh\n{body}\n")
        prog.chmod(0o755)


def _site_rc(rc: str) -> str:
    rc = rc.replace(
        '# LOCAL_CODE                =>  "$ENV{HOME}/local",',
        'LOCAL_CODE => "$ENV{HOME}/local",\n    POST_CREATE => ["site-log"],',
        1,
    )
    enable = "".join(f"            '{c}',\n" for c in SITE_ENABLE)
    rc = rc.replace("            'writable',\n", "            'writable',\n" + enable, 1)
    assert "POST_CREATE" in rc and "'set-default-roles',\n" in rc
    return rc


NOISE = (
    "hint:",
    "Initialized empty Git repository",
    "grep: ",
    "To file://",
    " ! [",
    "error: failed to push",
    "remote: error: hook declined",  # git's line after a refusal
    "Cloning into bare repository",  # fork: gitolite passes git clone's chatter through
    "done.",
)


def _norm(text: str, home: Path, tag: str, other: str) -> list[str]:
    """Lines less git's chatter, the side's HOME and the phase tag (documented in
    docs/gitolite-cli.md: the greeting, HOME, git's own lines); lines naming the other
    phase's twin repos are dropped (info lists them after the migration)."""
    import re

    out = []
    for line in text.replace(str(home), "HOME").splitlines():
        if line.startswith(NOISE) or f"/{other}" in line or f"{other}-" in line:
            continue
        line = re.sub(r"^hello (\S*), this is .*$", r"hello \1, GREETING", line)
        out.append(line.replace(tag, "TAG").rstrip())
    return out


def test_migrate_a_gitolite3_site_gives_the_same_answers(tmp_path: Path, server: Server) -> None:
    require_gitolite()
    import shutil
    import sys

    from gitolite_triggers import launcher

    home = server.home  # the conftest's sandbox: our CLI and gitolite3 share it
    env = _env(home)
    env.pop("D", None)
    env["PATH"] = f"{home}/bin:{env.get('PATH', '/usr/bin:/bin')}"  # as gitolite's docs ask
    for k in ("user.name", "user.email"):
        _run(["git", "config", "--global", k, "t@example.com"], env)
    server.rc_file.unlink(missing_ok=True)
    shutil.rmtree(server.rc_d, ignore_errors=True)  # a plain gitolite3 home
    assert shutil.which("gitolite", path=env["PATH"]) == "/usr/bin/gitolite"
    assert _run(["gitolite", "setup", "-a", "admin"], env).returncode == 0
    _site_files(home)
    rc = _site_rc((home / ".gitolite.rc").read_text())
    (home / ".gitolite.rc").write_text(rc)
    conf_dir = home / ".gitolite" / "conf"
    (conf_dir / "gitolite.conf").write_text((conf_dir / "gitolite.conf").read_text() + SITE_CONF)
    (conf_dir / "subs").mkdir()
    (conf_dir / "subs" / "team.conf").write_text(TEAM_CONF)
    r = _run(["gitolite", "setup"], env)
    assert r.returncode == 0, r.stderr

    def ssh(shell: list[str], user: str, soc: str) -> subprocess.CompletedProcess[str]:
        e = {**env, "SSH_ORIGINAL_COMMAND": soc, "SSH_CONNECTION": "127.0.0.1 4 127.0.0.1 22"}
        return _run([*shell, user], e, input="")

    gl_shell = [GITOLITE_SHELL]
    created = ssh(gl_shell, "alice", "git-upload-pack 'foo/alice/w1'")  # a wild repo by a read
    assert "Initialized empty Git repository in" in created.stderr
    assert ssh(gl_shell, "alice", "perms foo/alice/w1 + WRITERS bob").returncode == 0
    assert ssh(gl_shell, "alice", "desc foo/alice/w1 the first wild repo").returncode == 0
    w1 = home / "repositories" / "foo" / "alice" / "w1.git"
    assert (w1 / "gl-perms").read_text() == "READERS @all\nWRITERS bob\n"  # default roles too
    kept = {n: (w1 / n).read_bytes() for n in ("gl-perms", "gl-creator", "description")}

    work = tmp_path / "work"  # a clone to push from: a base commit on plain and vrefs
    git = lambda *a: _run(["git", "-C", str(work), *a], env)  # noqa: E731
    _run(["git", "init", "-q", "-b", "master", str(work)], env)
    for i in range(2):
        (work / f"f{i}").write_text(str(i))
        git("add", ".")
        git("commit", "-qm", f"c{i}")

    def push(shell: list[str], user: str, repo: str, *refspecs: str) -> tuple[int, str]:
        gw = _pack_wrapper(tmp_path, f"pw-{shell[0].rsplit('/', 1)[-1]}", shell)
        penv = {**env, "GLUSER": user, "GLPACK": "git-receive-pack"}
        r = _run(
            ["git", "-C", str(work), "push", f"--receive-pack={gw}", f"file:///{repo}", *refspecs],
            penv,
        )
        return r.returncode, r.stderr

    for repo in ("plain", "vrefs"):
        assert push(gl_shell, "alice", repo, "master")[0] == 0
    (home / "rsh.log").unlink()

    def commit(tag: str, files: dict[str, bytes]) -> None:
        """A new commit on master (its content names the phase: twin pushes differ)."""
        git("checkout", "-q", "-B", "scratch", "master")
        for rel, data in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_bytes(data + tag.encode())
        git("add", ".")
        git("commit", "-qm", f"{tag} {sorted(files)}")

    def probes(shell: list[str], tag: str, other: str) -> dict[str, object]:
        out: dict[str, object] = {}
        n = lambda text: _norm(text, home, tag, other)  # noqa: E731
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:  # read-only probes: at once, answers in order
            single = pool.map(lambda a: _run(["gitolite", "access", "-q", *a], env), ACCESS)
            for (repo, user, perm), r in zip(ACCESS, single, strict=True):
                out[f"access {repo} {user} {perm}"] = r.returncode
            cli = pool.map(lambda line: _run(["gitolite", *line.split()], env), CLI)
            for line, r in zip(CLI, cli, strict=True):
                out[f"gitolite {line}"] = (r.returncode, n(r.stdout), n(r.stderr))
        r = _run(["gitolite", "access", "%", "%", "W"], env, input=BATCH)
        out["gitolite access % % W (batch)"] = (r.returncode, n(r.stdout))
        # ssh commands, stateful ones on this phase's twin repos
        for user, soc in (
            ("alice", "info"),
            ("carol", "info -lc"),
            ("alice", "perms foo/alice/w1 -l"),
            ("carol", "perms foo/alice/w1 -l"),
            ("alice", f"create foo/alice/{tag}c"),
            ("alice", f"perms foo/alice/{tag}c -l"),
            ("bob", f"perms foo/alice/{tag}c + WRITERS carol"),
            ("alice", f"perms foo/alice/{tag}c + WRITERS carol"),
            ("alice", f"desc foo/alice/{tag}c twin repo"),
            ("carol", f"desc foo/alice/{tag}c"),
            ("alice", f"symbolic-ref foo/alice/{tag}c HEAD refs/heads/dev"),
            ("carol", f"symbolic-ref foo/alice/{tag}c HEAD refs/heads/x"),
            ("alice", f"fork plain foo/alice/{tag}f"),
            ("dave", f"fork plain foo/dave/{tag}f"),
            ("alice", f"writable foo/alice/{tag}c off back soon"),
            ("carol", f"git-receive-pack 'foo/alice/{tag}c'"),
            ("alice", f"writable foo/alice/{tag}c on"),
            ("alice", f"D unlock foo/alice/{tag}f"),
            ("alice", f"D rm foo/alice/{tag}f"),
            ("bob", f"D rm foo/alice/{tag}c"),
            ("alice", "info -lc"),
        ):
            r = ssh(shell, user, soc)
            status = 1 if r.returncode in (25, 255) else r.returncode  # Perl's die status
            out[f"ssh {user} {soc.replace(tag, 'TAG')}"] = (status, n(r.stdout), n(r.stderr))
        base = home / "repositories" / "foo" / "alice"
        for twin in (f"{tag}c", f"{tag}f"):
            repo = base / f"{twin}.git"
            # gl-creator: ours ends it with a newline (both read either; docs/migrate.md)
            out[f"effects {twin.replace(tag, 'TAG')}"] = {
                name: (repo / name).read_text().rstrip("\n") if (repo / name).exists() else None
                for name in ("HEAD", "gl-perms", "gl-creator", "description", "gl-forked-from")
            }
        # pushes: plain (rights, the repo-specific hook, the common hook) and the VREFs
        git("checkout", "-q", "master")
        pushes = {
            "bob plain": ("bob", "plain", {"p.txt": b"p"}, f"HEAD:refs/heads/{tag}-p"),
            "bob plain rewind": ("bob", "plain", {}, f"+master~1:refs/heads/{tag}-p"),
            "alice plain rewind": ("alice", "plain", {}, f"+master~1:refs/heads/{tag}-p"),
            "dave plain": ("dave", "plain", {"d.txt": b"d"}, f"HEAD:refs/heads/{tag}-d"),
            "carol team-a": ("carol", "team-a", {"t.txt": b"t"}, f"HEAD:refs/heads/{tag}-t"),
            "bob vrefs ok": ("bob", "vrefs", {"a.txt": b"a"}, f"HEAD:refs/heads/{tag}-ok"),
            "bob vrefs NAME": ("bob", "vrefs", {"secret/k": b"k"}, f"HEAD:refs/heads/{tag}-s"),
            "bob vrefs COUNT": (
                "bob",
                "vrefs",
                {f"n{i}": b"n" for i in range(4)},
                f"HEAD:refs/heads/{tag}-n",
            ),
            "alice vrefs COUNT": (
                "alice",
                "vrefs",
                {f"n{i}": b"n" for i in range(4)},
                f"HEAD:refs/heads/{tag}-n",
            ),
            "alice vrefs MAX_NEWBIN_SIZE": (
                "alice",
                "vrefs",
                {"big.bin": b"\0\1\2" * 700},
                f"HEAD:refs/heads/{tag}-b",
            ),
            "alice vrefs site VREF": (
                "alice",
                "vrefs",
                {"c.txt": b"c"},
                f"HEAD:refs/heads/{tag}-blocked",
            ),
        }
        for label, (user, repo, files, refspec) in pushes.items():
            if files:
                commit(tag, files)
            status, err = push(shell, user, repo, refspec)
            fatal = [x for x in n(err) if "FATAL" in x or "DENIED" in x or "site post-" in x]
            out[f"push {label}"] = (status, fatal)
        log = home / "rsh.log"
        out["repo-specific hook"] = n(log.read_text()) if log.exists() else []
        for soc in (f"D unlock foo/alice/{tag}c", f"D rm foo/alice/{tag}c"):  # info pads names:
            r = ssh(shell, "alice", soc)  # the other phase must not list this twin
            out[f"ssh alice {soc.replace(tag, 'TAG')}"] = (r.returncode, n(r.stdout), n(r.stderr))
        return out

    before = probes(gl_shell, "gl3", "our")  # tags of one length: info pads repo names
    # the probes say something: answers that could differ
    assert before["push bob plain"] == (0, ["remote: site post-update plain refs/heads/TAG-p"])
    assert before["push bob vrefs NAME"][0] != 0  # type: ignore[index]
    assert before["push alice vrefs COUNT"][0] == 0  # type: ignore[index]
    for label, vref in (
        ("bob vrefs NAME", "VREF/NAME/secret/"),
        ("bob vrefs COUNT", "VREF/COUNT/3"),
        ("alice vrefs MAX_NEWBIN_SIZE", "VREF/MAX_NEWBIN_SIZE/1000"),
        ("alice vrefs site VREF", "VREF/SITE/blocked"),
    ):
        status, fatal = before[f"push {label}"]  # type: ignore[misc]
        assert status != 0 and any(vref in line for line in fatal), (label, fatal)
    assert before["push bob vrefs ok"] == (0, ["remote: site post-update vrefs refs/heads/TAG-ok"])
    assert before["push dave plain"][0] != 0  # type: ignore[index]
    assert before["push carol team-a"][0] == 0  # type: ignore[index]  # the subconf's rule
    assert before["ssh dave fork plain foo/dave/TAGf"][0] == 1  # type: ignore[index]
    assert before["ssh carol git-receive-pack 'foo/alice/TAGc'"] == (1, [], ["FATAL: back soon"])
    assert before["repo-specific hook"] == [
        "plain bob refs/heads/TAG-p",
        "plain alice refs/heads/TAG-p",
    ]
    assert before["effects TAGc"]["gl-perms"] == "READERS @all\nWRITERS carol"  # type: ignore[index]

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
    ours_cli = [sys.executable, "-m", "gitolite_triggers"]
    dry = _run([*ours_cli, "migrate", "--dry-run"], env, input="")
    assert dry.returncode == 0 and "plan:" in dry.stdout, dry.stderr
    assert state() == seen  # --dry-run changes nothing
    r = _run([*ours_cli, "migrate"], env, input="")
    assert r.returncode == 0, r.stdout + r.stderr
    # the report: carried features, and by name what is not
    for carried in ("ENABLE set-default-roles", "ENABLE repo-specific-hooks", "ENABLE D"):
        assert f"carried over: {carried}" in r.stdout, carried
    assert "not carried over: LOG_EXTRA: " in r.stderr
    assert f"linked {home}/bin/gitolite -> " in r.stdout  # and it says so
    assert "now check with `gitolite-triggers doctor`" in r.stdout
    assert shutil.which("gitolite", path=env["PATH"]) == f"{home}/bin/gitolite"
    doctor = _run([*ours_cli, "doctor"], env)  # the checklist's last step finds nothing
    assert doctor.returncode == 0 and "doctor: no problems found" in doctor.stdout, doctor.stdout
    (home / "rsh.log").unlink()
    forced = launcher.write_shell_launcher(str(home / ".gitolite"))  # authorized_keys' command
    after = probes([forced, "shell"], "our", "gl3")
    diff = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    assert not diff, "\n".join(
        f"{k}:\n  gitolite: {a!r}\n  ours:     {b!r}" for k, (a, b) in diff.items()
    )
    assert {n: (w1 / n).read_bytes() for n in kept} == kept
    assert os.readlink(w1 / "hooks" / "update") == str(
        home / ".gitolite" / "hooks" / "common" / "update"
    )
    log = (home / "trigger.log").read_text()  # the site's POST_CREATE trigger, both sides
    assert "site-log POST_CREATE foo/alice/gl3c alice" in log
    assert "site-log POST_CREATE foo/alice/ourc alice" in log
    # the backup holds what was replaced; --rollback gives the account gitolite back
    backups = list((home / ".gitolite-migrate").iterdir())
    assert len(backups) == 1 and (backups[0] / "gitolite.rc").read_text() == rc
    rb = _run([*ours_cli, "migrate", "--rollback", str(backups[0])], env)
    assert rb.returncode == 0, rb.stderr
    assert shutil.which("gitolite", path=env["PATH"]) == "/usr/bin/gitolite"
    assert _run(["gitolite", "setup"], env).returncode == 0
    assert _run(["gitolite", "access", "-q", "plain", "bob", "W"], env).returncode == 0
    status, err = push(gl_shell, "bob", "plain", "master:refs/heads/after-rollback")
    assert status == 0 and "site post-update plain" in err


def test_every_feature_and_key_of_gitolites_default_rc_is_carried_or_named(
    server: Server,
) -> None:
    """gitolite's own default rc with every ENABLE line switched on (commands and
    features): each is either carried over or named with its meaning, as is every key."""
    import re

    require_gitolite()
    text = _run(["gitolite", "print-default-rc"], _env(server.home)).stdout
    head, enable, tail = re.split(r"(?ms)(^\s*ENABLE\s*=>\s*\[.*?^\s*\],)", text, maxsplit=1)
    enable = re.sub(r"(?m)^(\s*)#\s*(['\"])", r"\1\2", enable)  # uncomment every entry
    names = sorted({m.split()[0] for m in re.findall(r"(?m)^\s*['\"]([^'\"]+)['\"],", enable)})
    assert {"D", "fork", "Mirroring", "repo-specific-hooks", "renice", "Shell"} <= set(names)
    rc = server.home / ".gitolite.rc"
    rc.write_text(head + enable + tail)
    r = server.cli("rc", "import", str(rc))
    assert r.returncode == 0, r.stderr
    said = r.stdout + r.stderr
    for name in names:
        assert re.search(rf"(?m)^(not )?carried over: ENABLE {re.escape(name)}\b", said), name
    assert "not carried over: ENABLE mirror: " in r.stderr  # gitolite's, not ours
    keys = set(re.findall(r"(?m)^\s{4}([A-Z][A-Z_0-9]+)\s*=>", head + tail))
    assert {"UMASK", "GIT_CONFIG_KEYS", "LOG_EXTRA", "ROLES"} <= keys
    for key in keys:
        assert re.search(rf"(?m)^(not )?carried over: {key}\b", said), key
    assert said.count("not carried over: ENABLE Shell: ") == 1  # two entries, named once
