"""The ssh commands where the differential test cannot reach: ours only, through the forced command.

- the rc's COMMANDS decides what ssh users may run (a built-in left out is unknown);
- a site's ``LOCAL_CODE/commands/<name>`` runs with gitolite's environment and its
  arguments, its exit status is the session's, and ``help`` lists it once enabled;
- the stricter checks (docs/shell.md): ``D restore`` takes only a path ``trash`` made,
  ``symbolic-ref`` only ``HEAD [refs/heads/X]``, a repo name failing the canonical check
  never reaches the file system;
- ``writable @all off`` refuses a real push (git over the forced command), ``on`` lets it in;
- ``gitolite setup`` links ``~/bin/gitolite`` to the lean launcher, which answers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitolite_triggers import launcher
from tests.support.server import Server

CONF = """\
repo gitolite-admin
    RW+ = admin
repo foo
    RW+ = alice
    R = bob
repo dev/CREATOR/..*
    C = alice bob
    RW+ = CREATOR
"""


@pytest.fixture
def account(server: Server) -> Server:
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text(CONF)
    local = server.home / "local"
    (local / "commands").mkdir(parents=True)
    server.write_rc(
        f"LOCAL_CODE: {local}\nCOMMANDS: [help, info, perms, D, symbolic-ref, create, hello]\n"
    )
    assert server.cli("compile").returncode == 0
    return server


def ssh(server: Server, user: str, soc: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    forced = launcher.write_shell_launcher(str(server.admin_base))
    env = {**server.env, "SSH_ORIGINAL_COMMAND": soc, "SSH_CONNECTION": "192.0.2.1 1 127.0.0.1 22"}
    return subprocess.run(
        [forced, "shell", user], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_only_enabled_commands_run(account: Server) -> None:
    r = ssh(account, "alice", "desc foo")  # built in, but not in this rc's COMMANDS
    assert (r.returncode, r.stderr) == (1, "FATAL: unknown git/gitolite command: 'desc foo'\n")
    r = ssh(account, "alice", "help")
    listed = r.stdout.split("list of remote commands available:\n\n")[1].split()
    assert listed == [
        "D",
        "create",
        "help",
        "info",
        "perms",
        "symbolic-ref",
    ]  # not `hello`: no program yet


def test_a_site_command_gets_gitolite_environment_and_arguments(account: Server) -> None:
    prog = account.home / "local" / "commands" / "hello"
    prog.write_text(
        "#!/bin/sh\n"
        'echo "args=$*"\n'
        'echo "user=$GL_USER base=$GL_REPO_BASE admin=$GL_ADMIN_BASE"\n'
        'case "$PATH" in "$GL_BINDIR":*) echo bindir-first;; esac\n'
        'read line; echo "stdin=$line"\n'
        "exit 7\n"
    )
    prog.chmod(0o755)
    r = ssh(account, "alice", "hello a b=c", stdin="from the client\n")
    assert r.returncode == 7, r.stderr
    assert r.stdout == (
        "args=a b=c\n"
        f"user=alice base={account.repo_base} admin={account.admin_base}\n"
        "bindir-first\nstdin=from the client\n"
    )
    assert "\thello\n" in ssh(account, "bob", "help").stdout
    # not executable, or a name that is a path: never run
    prog.chmod(0o644)
    assert ssh(account, "alice", "hello").stderr == "FATAL: unknown gitolite sub-command\n"


def test_d_restore_takes_only_what_trash_made(account: Server) -> None:
    assert ssh(account, "alice", "create dev/alice/x").returncode == 0
    assert (
        ssh(account, "alice", "D trash dev/alice/x").stdout == "'dev/alice/x' moved to trashcan\n"
    )
    trashed = ssh(account, "alice", "D list-trash").stdout.strip()
    assert trashed.startswith("dev/alice/x/20")
    stamp = trashed.rsplit("/", 1)[1]
    for bad in ("dev/alice/x", "dev/alice/x/..", f"dev/alice//x/{stamp}", f"dev/x/{stamp}"):
        r = ssh(account, "alice", f"D restore {bad}")
        assert (r.returncode, r.stdout, r.stderr) == (1, "", f"'{bad}' is not yours!\n"), bad
    r = ssh(account, "alice", "D restore ../x/2026")
    assert (r.returncode, r.stderr) == (1, "FATAL: no relative paths allowed anywhere!\n")
    assert ssh(account, "bob", f"D restore {trashed}").stderr == f"'{trashed}' is not yours!\n"
    r = ssh(account, "alice", f"D restore {trashed}")
    assert r.stdout == f"'{trashed}' restored to 'dev/alice/x'\n"
    assert (account.repo_base / "dev/alice/x.git/gl-creator").read_text() == "alice"


@pytest.mark.parametrize(
    "args",
    [
        "--delete HEAD",
        "HEAD refs/tags/v1",
        "HEAD refs/heads/a..b",
        "HEAD refs/heads/x y",
        "-m msg HEAD refs/heads/x",
    ],
)
def test_symbolic_ref_takes_only_head_and_a_branch(account: Server, args: str) -> None:
    r = ssh(account, "alice", f"symbolic-ref foo {args}")
    assert r.returncode == 1 and "only 'HEAD'" in r.stderr, r
    head = subprocess.run(
        ["git", "--git-dir", str(account.repo_base / "foo.git"), "symbolic-ref", "HEAD"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert head.startswith("refs/heads/")  # untouched


def test_aliases_never_reach_the_file_system(account: Server) -> None:
    assert ssh(account, "alice", "create dev/alice/y").returncode == 0
    for soc in (
        "D unlock dev/alice//y",
        "perms dev/alice/./y -l",
        "create dev/alice//z",
        "symbolic-ref dev//alice/y HEAD",
    ):
        r = ssh(account, "alice", soc)
        assert r.returncode != 0 and r.stdout == "", (soc, r)
    assert not (account.repo_base / "dev/alice/y.git/gl-rm-ok").exists()
    assert not (account.repo_base / "dev/alice/z.git").exists()


def test_writable_off_refuses_a_real_push(account: Server, tmp_path: Path) -> None:
    forced = launcher.write_shell_launcher(str(account.admin_base))
    fake_ssh = tmp_path / "ssh"
    fake_ssh.write_text(
        f'#!/bin/sh\nfor last; do :; done\nSSH_ORIGINAL_COMMAND="$last" exec {forced} shell alice\n'
    )
    fake_ssh.chmod(0o755)
    env = {**account.env, "GIT_SSH": str(fake_ssh), "GIT_SSH_VARIANT": "simple"}
    work = tmp_path / "w"
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env
    )

    def push() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(work), "push", "-q", "git@server:foo", "HEAD:refs/heads/main"],
                              env=env, capture_output=True, text=True, timeout=60)  # fmt: skip

    assert (
        ssh(account, "admin", "writable @all off back at five").returncode == 1
    )  # not enabled here
    account.write_rc(f"LOCAL_CODE: {account.home / 'local'}\nCOMMANDS: [writable]\n")
    assert ssh(account, "admin", "writable @all off back at five").returncode == 0
    assert ssh(account, "alice", "writable @all on").stderr == "FATAL: you are not authorized\n"
    r = push()
    assert r.returncode != 0 and "FATAL: back at five" in r.stderr, r.stderr
    assert ssh(account, "admin", "writable @all on").returncode == 0
    r = push()
    assert r.returncode == 0, r.stderr


def test_gitolite_setup_links_the_lean_command(server: Server, tmp_path: Path) -> None:
    from tests.support.adminkeys import make_key

    env = dict(server.env)
    gitolite = Path(os.path.dirname(os.path.abspath(__import__("sys").executable))) / "gitolite"
    r = subprocess.run([str(gitolite), "setup", "-pk", str(make_key(tmp_path, "admin"))], env=env,
                       capture_output=True, text=True, timeout=120, cwd=server.home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    link = server.home / "bin" / "gitolite"
    assert os.readlink(link) == str(server.admin_base / "bin" / "gitolite")
    launcher.write_if_changed(  # as the test interpreter would write it (test_hot_path's reason)
        str(link.resolve()),
        launcher.render(
            "gitolite_triggers.gitolite.main", "main(sys.argv[1:])", "the gitolite command"
        ),
    )
    r = subprocess.run(
        [str(link), "list-phy-repos"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (r.returncode, r.stdout) == (0, "gitolite-admin\ntesting\n"), r.stderr


def test_the_rc_switches_of_d_and_desc(account: Server) -> None:
    """gitolite's D_DISABLE_RM, TRASH_CAN, TRASH_SUFFIX and WRITER_CAN_UPDATE_DESC."""
    local = account.home / "local"
    account.write_rc(
        f"LOCAL_CODE: {local}\nCOMMANDS: [D, create, desc]\nD_DISABLE_RM: true\n"
        "TRASH_CAN: Bin\nTRASH_SUFFIX: '1'\n"
    )
    assert ssh(account, "alice", "create dev/alice/t").returncode == 0
    r = ssh(account, "alice", "D unlock dev/alice/t")
    assert (r.returncode, r.stderr) == (1, "sorry, 'unlock' and 'rm' are disabled\n")
    assert ssh(account, "alice", "D trash dev/alice/t").returncode == 0
    assert (account.repo_base / "Bin/dev/alice/t/1/gl-creator").is_file()
    assert ssh(account, "alice", "D list-trash").stdout == "dev/alice/t/1\n"
    assert ssh(account, "bob", "desc foo read by bob").stderr == "FATAL: you are not authorized\n"
    account.write_rc(f"LOCAL_CODE: {local}\nCOMMANDS: [desc]\nWRITER_CAN_UPDATE_DESC: true\n")
    assert ssh(account, "bob", "desc foo read by bob").returncode == 1  # bob only reads foo
    assert ssh(account, "alice", "desc foo set by a writer").returncode == 0
    assert (account.repo_base / "foo.git/description").read_text() == "set by a writer"


def test_writable_message_reaches_pushers_without_terminal_controls(account: Server) -> None:
    """A wild repo's owner writes the 'writes disabled' text (stdin: any bytes) that every
    pusher of the repo sees: escape sequences and other controls are shown as '?', lines
    and tabs kept."""
    account.write_rc(f"LOCAL_CODE: {account.home / 'local'}\nCOMMANDS: [create, writable]\n")
    assert ssh(account, "alice", "create dev/alice/w").returncode == 0
    text = "\x1b]0;owned\x07\x1b[2Jback\tsoon\r\nline two\x9b31m\u202e"
    assert ssh(account, "alice", "writable dev/alice/w off", stdin=text).returncode == 0
    r = ssh(account, "alice", "git-receive-pack 'dev/alice/w'")
    assert r.returncode != 0
    assert "back\tsoon" in r.stderr and "line two" in r.stderr
    shown = r.stderr.replace("\n", "").replace("\t", "")
    assert shown.isprintable(), repr(r.stderr)


def test_writable_message_that_is_not_utf8_is_taken(account: Server) -> None:
    """The message comes from the client's stdin as bytes: invalid UTF-8 is replaced, not an
    internal error."""
    account.write_rc(f"LOCAL_CODE: {account.home / 'local'}\nCOMMANDS: [create, writable]\n")
    assert ssh(account, "alice", "create dev/alice/u").returncode == 0
    forced = launcher.write_shell_launcher(str(account.admin_base))
    env = {**account.env, "SSH_ORIGINAL_COMMAND": "writable dev/alice/u off"}
    r = subprocess.run([forced, "shell", "alice"], env=env, input=b"down \xff\xfe now\n",
                       capture_output=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = ssh(account, "alice", "git-receive-pack 'dev/alice/u'")
    assert r.returncode != 0 and "FATAL: down \ufffd\ufffd now" in r.stderr, r.stderr


def test_fork_shows_the_final_path_and_copies(account: Server) -> None:
    """t/fork.t: git's `Cloning into bare repository '.../TO.git'...` line names the final
    repo (never the hidden folder the copy is built in); the copy is the creator's."""
    account.write_rc(
        f"LOCAL_CODE: {account.home / 'local'}\nCOMMANDS: [help, info, perms, create, fork]\n"
    )
    assert ssh(account, "alice", "create dev/alice/src").returncode == 0
    r = ssh(account, "alice", "fork dev/alice/src dev/alice/copy")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert f"Cloning into bare repository '{account.repo_base}/dev/alice/copy.git'..." in lines
    assert "forking" not in r.stderr and lines[-1] == "dev/alice/src forked to dev/alice/copy"
    assert (
        account.repo_base / "dev/alice/copy.git/gl-forked-from"
    ).read_text() == "dev/alice/src\n"
    r = ssh(account, "bob", "fork dev/alice/src dev/bob/copy")
    assert r.returncode == 1 and "Cloning" not in r.stderr
