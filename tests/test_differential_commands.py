"""Differential test: the ssh commands and the ``gitolite`` command against the real gitolite3.

Two accounts with the same state (the same conf, compiled; the same wild repos, made by
the commands themselves; the same gl-perms, descriptions, ``writable`` switches) get the
same script of requests in the same order: ssh commands through each side's forced
command (our ``gitolite-triggers shell USER``, gitolite's ``gitolite-shell USER``, with
``SSH_ORIGINAL_COMMAND``) and ``gitolite`` sub-commands through each side's ``gitolite``
script. Every answer must be the same: stdout, stderr and the exit status, after the
normalisations below, each a documented difference (docs/gitolite-cli.md):

- the greeting names the product and versions (``hello alice, this is ...``);
- each side's HOME;
- gitolite dies with Perl's errno-derived status (25 or 255); we exit 1;
- git's own chatter (``hint:``, ``Initialized empty Git repository``, ``Cloning into``),
  (paths differ between the two HOMEs; tests/test_ssh_commands.py checks ours), and gitolite's
  harmless ``grep: .../projects.list: No such file`` from its POST_CREATE updater;
- ``info -json``: compared as data, less the version fields.

A missing gitolite3 fails the test (CI installs it).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from gitolite_triggers import launcher
from gitolite_triggers.gitolite.onpath import write_launcher
from tests.support.adminkeys import make_key
from tests.support.gitolite_ref import GitoliteRef
from tests.support.server import Server, make_server

CONF = """\
repo gitolite-admin
    RW+ = admin
repo testing
    RW+ = @all
@staff = alice bob
@all-devs = @staff carol
repo foo
    RW+ = alice
    R = @all-devs
repo bar
    RW = alice carol
    R = bob
    option writer-is-owner = 1
repo dev/CREATOR/..*
    C = @staff
    RW+ = CREATOR
    RW = WRITERS
    R = READERS
repo @g1
    RW = dave
@g1 = baz qux
"""
COMMANDS = ["help", "desc", "info", "perms", "writable", "D", "create", "fork", "symbolic-ref"]
GITOLITE_SHELL = "/usr/share/gitolite3/gitolite-shell"
SITE_INFO = "Please see http://example.com/git for help"
CONNECTION = "127.0.0.1 40000 127.0.0.1 22"

# (GL_USER or None, "ssh" | "cli", the SOC or the sub-command line, stdin)
Step = tuple[str | None, str, str, str]
SCRIPT: list[Step] = [
    # the gitolite command: what integrators' scripts call
    (None, "cli", "list-repos", ""),
    (None, "cli", "list-phy-repos", ""),
    (None, "cli", "list-users", ""),
    (None, "cli", "list-groups", ""),
    (None, "cli", "list-memberships -u alice", ""),
    (None, "cli", "list-memberships -u nobody", ""),
    (None, "cli", "list-memberships -r baz", ""),
    (None, "cli", "list-members @staff", ""),
    (None, "cli", "list-members @all-devs", ""),
    (None, "cli", "list-members @nope", ""),
    (None, "cli", "query-rc GL_REPO_BASE", ""),
    (None, "cli", "query-rc -n GL_ADMIN_BASE", ""),
    (None, "cli", "query-rc UMASK", ""),
    (None, "cli", "query-rc ROLES", ""),
    (None, "cli", "query-rc COMMANDS", ""),
    (None, "cli", "query-rc COMMANDS fork", ""),
    (None, "cli", "query-rc -q COMMANDS fork", ""),
    (None, "cli", "query-rc -q COMMANDS nosuch", ""),
    (None, "cli", "query-rc NOPE", ""),
    (None, "cli", "access foo alice W master", ""),
    (None, "cli", "access foo carol W", ""),
    (None, "cli", "access -q foo carol W", ""),
    (None, "cli", "access -q foo alice", ""),
    (None, "cli", "access foo carol", ""),
    (None, "cli", "access bar bob R any", ""),
    (None, "cli", "access -s foo alice W master", ""),
    (None, "cli", "access -s foo carol W", ""),
    (None, "cli", "access -q -s foo alice", ""),
    (None, "cli", "access -s bar bob W", ""),
    (None, "cli", "access -s bar bob R", ""),
    (None, "cli", "access % % R", "foo alice\nfoo carol\nbar dave\n"),
    (None, "cli", "access foo % W", "alice\nbob\n"),
    ("alice", "cli", "access dev/alice/new alice ^C", ""),
    ("carol", "cli", "access dev/carol/new carol ^C", ""),
    (None, "cli", "git-config bar gitolite-options.writer-is-owner", ""),
    (None, "cli", "git-config -n bar gitolite-options.writer-is-owner", ""),
    (None, "cli", "git-config -q bar gitolite-options.writer-is-owner", ""),
    (None, "cli", "git-config foo gitolite-options.writer-is-owner", ""),
    (None, "cli", "git-config -r bar writer", ""),
    (None, "cli", "trigger NOPE", ""),
    (None, "cli", "trigger POST_COMPILE", ""),
    (None, "cli", "nosuch", ""),
    # ssh: info, help
    ("alice", "ssh", "info", ""),
    ("alice", "ssh", "", ""),
    ("carol", "ssh", "info", ""),
    ("dave", "ssh", "info", ""),
    ("alice", "ssh", "help", ""),
    ("alice", "ssh", "nosuch x", ""),
    # create (and perms -c, fork) make the wild repos the later steps use
    ("alice", "ssh", "create dev/alice/r1", ""),
    ("alice", "ssh", "create dev/alice/r1", ""),
    ("carol", "ssh", "create dev/carol/r1", ""),
    ("alice", "ssh", "create foo", ""),
    ("bob", "ssh", "create dev/bob/b1", ""),
    ("alice", "ssh", "info -lc", ""),
    ("alice", "ssh", "info -lc -ld", ""),
    ("alice", "ssh", "info -ld r1", ""),
    ("alice", "ssh", "info -p", ""),
    ("alice", "ssh", "info -p -lc dev", ""),
    ("bob", "ssh", "info -lc", ""),
    # perms
    ("alice", "ssh", "perms dev/alice/r1 -l", ""),
    ("alice", "ssh", "perms dev/alice/r1 -lr", ""),
    ("alice", "ssh", "perms dev/alice/r1 + READERS carol", ""),
    ("alice", "ssh", "perms dev/alice/r1 + READERS carol", ""),
    ("alice", "ssh", "perms dev/alice/r1 + WRITERS bob", ""),
    ("alice", "ssh", "perms dev/alice/r1 -l", ""),
    ("alice", "ssh", "perms dev/alice/r1 + OWNERS carol", ""),
    ("alice", "ssh", "perms dev/alice/r1 x READERS carol", ""),
    ("bob", "ssh", "perms dev/alice/r1 -l", ""),
    ("bob", "ssh", "perms dev/alice/r1 + READERS dave", ""),
    ("carol", "ssh", "info", ""),
    ("bob", "ssh", "info -lc", ""),
    ("alice", "ssh", "perms dev/alice/r1 - READERS carol", ""),
    ("alice", "ssh", "perms dev/alice/r1 - READERS carol", ""),
    ("alice", "ssh", "perms -c dev/alice/r2 + READERS bob", ""),
    ("alice", "ssh", "perms dev/alice/r2 -l", ""),
    ("carol", "ssh", "perms -c dev/carol/r2 + READERS bob", ""),
    ("alice", "ssh", "perms nosuch -l", ""),
    # desc
    ("alice", "ssh", "desc dev/alice/r1", ""),
    ("alice", "ssh", "desc dev/alice/r1 the first one", ""),
    ("alice", "ssh", "desc dev/alice/r1", ""),
    ("bob", "ssh", "desc dev/alice/r1", ""),
    ("bob", "ssh", "desc dev/alice/r1 taken over", ""),
    ("carol", "ssh", "desc dev/alice/r1", ""),
    ("carol", "ssh", "desc bar set by a writer", ""),
    ("bob", "ssh", "desc bar set by a reader", ""),
    ("bob", "ssh", "desc bar", ""),
    ("alice", "ssh", "desc foo not mine", ""),
    ("alice", "ssh", "info -ld", ""),
    # writable, and the refusal of a push while writes are off
    ("alice", "ssh", "writable dev/alice/r1 status", ""),
    ("bob", "ssh", "writable dev/alice/r1 status", ""),
    ("carol", "ssh", "writable dev/alice/r1 off nope", ""),
    ("alice", "ssh", "writable dev/alice/r1 off back at five", ""),
    ("alice", "ssh", "writable dev/alice/r1 status", ""),
    ("alice", "ssh", "git-receive-pack 'dev/alice/r1'", ""),
    ("bob", "ssh", "git-receive-pack 'dev/alice/r1'", ""),
    ("alice", "ssh", "writable dev/alice/r1 on", ""),
    ("alice", "ssh", "writable dev/alice/r1 status", ""),
    ("bob", "ssh", "writable @all off", ""),
    ("admin", "ssh", "writable @all off backup running", ""),
    ("alice", "ssh", "writable foo status", ""),
    ("alice", "ssh", "git-receive-pack 'foo'", ""),
    ("admin", "ssh", "writable @all on", ""),
    ("alice", "ssh", "writable foo status", ""),
    ("alice", "ssh", "writable foo maybe", ""),
    # symbolic-ref
    ("alice", "ssh", "symbolic-ref dev/alice/r1 HEAD refs/heads/dev", ""),
    ("alice", "ssh", "symbolic-ref dev/alice/r1 HEAD", ""),
    ("carol", "ssh", "symbolic-ref dev/alice/r1 HEAD refs/heads/x", ""),
    ("carol", "ssh", "symbolic-ref foo HEAD refs/heads/x", ""),
    # fork
    ("alice", "ssh", "fork foo dev/alice/f1", ""),
    ("alice", "ssh", "fork foo dev/alice/f1", ""),
    ("carol", "ssh", "fork foo dev/carol/f1", ""),
    ("alice", "ssh", "fork nosuch dev/alice/f2", ""),
    ("dave", "ssh", "fork foo dev/dave/f1", ""),
    ("alice", "ssh", "info -lc", ""),
    ("alice", "ssh", "perms dev/alice/f1 -l", ""),
    # D
    ("alice", "ssh", "D", ""),
    ("alice", "ssh", "D rm dev/alice/r2", ""),
    ("bob", "ssh", "D unlock dev/alice/r2", ""),
    ("alice", "ssh", "D unlock dev/alice/r2", ""),
    ("alice", "ssh", "D lock dev/alice/r2", ""),
    ("alice", "ssh", "D rm dev/alice/r2", ""),
    ("alice", "ssh", "D unlock dev/alice/r2", ""),
    ("alice", "ssh", "D rm dev/alice/r2", ""),
    ("alice", "ssh", "D rm dev/alice/r2", ""),
    ("alice", "ssh", "D frob dev/alice/r1", ""),
    ("alice", "ssh", "D list-trash", ""),
    ("alice", "ssh", "D trash dev/alice/f1", ""),
    ("bob", "ssh", "D list-trash", ""),
    ("alice", "ssh", "D list-trash", ""),
    ("bob", "ssh", "D restore dev/alice/f1/TRASHED", ""),
    ("alice", "ssh", "D restore dev/alice/f1/TRASHED", ""),
    ("alice", "ssh", "D list-trash", ""),
    ("alice", "ssh", "info", ""),
    (None, "cli", "access -s dev/alice/r1 bob W", ""),
    (None, "cli", "access -s dev/alice/r1 alice + refs/heads/x", ""),
    (None, "cli", "list-phy-repos", ""),
    (None, "cli", "list-memberships -r dev/alice/r1", ""),
    # the gitolite command runs ssh commands for GL_USER
    ("alice", "cli", "info", ""),
    ("alice", "cli", "perms dev/alice/r1 -l", ""),
    ("bob", "cli", "desc dev/alice/r1", ""),
]


class Side:
    """One account and how to run each kind of step on it."""

    def __init__(
        self, home: Path, env: dict[str, str], shell: list[str], gitolite: list[str]
    ) -> None:
        self.home, self.env, self.shell, self.gitolite = home, env, shell, gitolite
        self.trashed = ""

    def run(self, user: str | None, kind: str, text: str, stdin: str) -> tuple[int, str, str]:
        env = {k: v for k, v in self.env.items() if not k.startswith(("GL_", "SSH_"))}
        text = text.replace("TRASHED", self.trashed)
        if kind == "ssh":
            assert user is not None
            env.update(SSH_ORIGINAL_COMMAND=text, SSH_CONNECTION=CONNECTION)
            argv = [*self.shell, user]
        else:
            if user:
                env["GL_USER"] = user
            argv = [*self.gitolite, *text.split()]
        p = subprocess.run(
            argv, env=env, input=stdin, capture_output=True, text=True, cwd=self.home, timeout=120
        )
        out = p.stdout
        if text == "D list-trash" and out.strip():
            self.trashed = out.split()[0].rpartition("/")[2]
        return p.returncode, out, p.stderr


GREETING = re.compile(r"^hello (\S*), this is .*$", re.M)
NOISE = re.compile(
    r"^(hint:.*|Initialized empty Git repository in .*|Cloning into .*|done\.|grep: .*projects\.list: No such file or directory)\n",
    re.M,
)
STAMP = re.compile(r"\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d")


def normal(side: Side, answer: tuple[int, str, str], step: Step) -> tuple[int, str, str]:
    status, out, err = answer
    if status in (25, 255):  # Perl's die status (errno-derived); ours is 1
        status = 1

    def fix(t: str) -> str:
        return STAMP.sub(
            "TIME", GREETING.sub(r"hello \1, GREETING", t.replace(str(side.home), "HOME"))
        )

    out, err = fix(out), NOISE.sub("", fix(err))
    if out.lstrip().startswith(("Usage:", "perms -- ")):  # usage texts are in our own words
        out = "USAGE"
    if "-json" in step[2]:
        doc = json.loads(out)
        for key in ("gitolite_version", "git_version", "USER"):
            doc.pop(key, None)
        out = json.dumps(doc, sort_keys=True)
    return status, out, err


def _ref_side(home: Path) -> Side:
    ref = GitoliteRef(home)
    ref.setup()
    rc = (home / ".gitolite.rc").read_text()
    enable = "".join(
        f"            '{c}',\n"
        for c in COMMANDS
        if c not in ("help", "desc", "info", "perms", "writable")
    )
    rc = rc.replace("            'writable',\n", "            'writable',\n" + enable, 1)
    rc = re.sub(r"(?m)^\s*# SITE_INFO .*$", f"        SITE_INFO => '{SITE_INFO}',", rc, count=1)
    (home / ".gitolite.rc").write_text(rc)
    ref.write_conf(CONF)
    ref.compile()
    for desc in home.glob("repositories/**/description"):  # gitolite 3.6.13+ deletes these too
        if desc.read_text().startswith("Unnamed repository"):
            desc.unlink()
    env = {**ref.env, "USER": "git"}
    return Side(home, env, [GITOLITE_SHELL], [ref.exe])


def _our_side(home: Path, keys: Path) -> Side:
    server: Server = make_server(home)
    server.write_rc("COMMANDS: [" + ", ".join(COMMANDS) + f"]\nSITE_INFO: '{SITE_INFO}'\n")
    p = server.cli("setup", "--pubkey", str(make_key(keys, "admin")))
    assert p.returncode == 0, p.stderr
    (server.admin_base / "conf" / "gitolite.conf").write_text(CONF)
    p = server.cli("compile")
    assert p.returncode == 0, p.stderr
    env = {**server.env, "USER": "git"}
    # the lean launcher sshd runs, written with this interpreter's import path (as test_hot_path)
    forced = launcher.write_shell_launcher(str(server.admin_base))
    ours = write_launcher(str(server.admin_base))  # what `gitolite setup` links as ~/bin/gitolite
    return Side(home, env, [forced, "shell"], [ours])


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> tuple[Side, Side]:
    base = tmp_path_factory.mktemp("diffcmds")
    return _ref_side(base / "ref"), _our_side(base / "ours", base / "keys")


def test_the_same_script_gets_the_same_answers(sides: tuple[Side, Side]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ref, ours = sides
    mismatches = []
    pool = ThreadPoolExecutor(2)  # the two sides are independent: run each step on both at once
    for step in SCRIPT:
        want_f, got_f = pool.submit(ref.run, *step), pool.submit(ours.run, *step)
        want, got = normal(ref, want_f.result(), step), normal(ours, got_f.result(), step)
        if want != got:
            mismatches.append(
                f"{step[0]} {step[1]} {step[2]!r}:\n  gitolite: {want!r}\n  ours:     {got!r}"
            )
    assert not mismatches, f"{len(mismatches)} of {len(SCRIPT)} differ:\n" + "\n".join(mismatches)
    # the script did what it says: the state both sides reached is real, not two empty answers
    for side in (ref, ours):
        base = side.home / "repositories"
        assert (base / "dev/alice/r1.git/gl-perms").read_text() == "WRITERS bob\n"
        assert (base / "dev/alice/r1.git/description").read_text() == "the first one"
        assert (base / "dev/alice/f1.git/gl-forked-from").read_text().strip() == "foo"
        assert not (base / "dev/alice/r2.git").exists()
        head = subprocess.run(
            ["git", "--git-dir", str(base / "dev/alice/r1.git"), "symbolic-ref", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout
        assert head == "refs/heads/dev\n"
