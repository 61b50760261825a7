"""Issue 10, what an admin (or a mistaken one) can push or put in the rc that reaches
authorized_keys or the admin checkout: defects 3 (AUTH_OPTIONS), 5 (symlinks and other
non-files in conf/ and keydir/), 7 (newlines in keydir file names) and 14 (private keys).

Through the real paths: ``git push`` into the real hooks (tests/support/adminrepo.py),
the CLI, and the ssh-authkeys program as the runner starts it. Every refusal is checked
for its message, and for what did NOT happen: authorized_keys byte-identical, the
checkout and compiled rules still the last good commit, the secret in no output or log.
"""

from __future__ import annotations

import json
import marshal
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitolite_triggers.authoptions import AUTH_OPTIONS_PATTERN, FLAG_OPTIONS, auth_options_problem
from gitolite_triggers.keyfile import is_private_key
from gitolite_triggers.keyindex import TOKEN_LINE
from gitolite_triggers.postcompile.ssh_authkeys import (
    END,
    START,
    AuthkeysError,
    Key,
    build,
    user_from_filename,
    user_problem,
)
from tests.support.adminkeys import key_blob, make_key, run_post_compile
from tests.support.adminrepo import bare_git, clone_admin, commit_all, git, head_branch, push_as
from tests.support.server import Server

SECRET = "s3cr3t-buildkite-token-7f1e9c"
GOOD_CONF = "repo gitolite-admin\n    RW+ = admin\n\nrepo testing\n    RW+ = @all\n"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: make_key(folder, name) for name in ("admin", "alice", "carol")}


@pytest.fixture
def admin(server: Server, keys: dict[str, Path], tmp_path: Path) -> Path:
    """A set-up server (admin's key in force) and the admin's clone of gitolite-admin."""
    r = server.cli("setup", "--pubkey", str(keys["admin"]))
    assert r.returncode == 0, r.stdout + r.stderr
    return clone_admin(server, tmp_path / "gitolite-admin")


def ak_path(server: Server) -> Path:
    return server.home / ".ssh" / "authorized_keys"


def private_lines(pub: Path) -> list[str]:
    """The secret lines of a key pair's private half (what must never be shown anywhere)."""
    text = pub.with_suffix("").read_text()
    return [ln for ln in text.splitlines() if ln and not ln.startswith("-----")]


def logs(server: Server) -> str:
    folder = server.admin_base / "logs"
    return (
        "".join(p.read_text(errors="replace") for p in folder.glob("*")) if folder.is_dir() else ""
    )


class State:
    """What must stay as it was after a refused push: keys, checkout, compiled rules, head."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.ak = ak_path(server).read_bytes()
        self.store = (server.admin_base / "conf" / "compiled.rules").read_bytes()
        self.conf = (server.admin_base / "conf" / "gitolite.conf").read_bytes()
        self.keydir = sorted(p.name for p in (server.admin_base / "keydir").iterdir())
        self.head = self.rev("HEAD")
        self.good = (server.repo_base / "gitolite-admin.git" / "gl-last-good").read_text()

    def rev(self, what: str) -> str:
        return bare_git(self.server, "gitolite-admin", "rev-parse", what).stdout.strip()

    def assert_unchanged(self, head_too: bool = True) -> None:
        s = self.server
        assert ak_path(s).read_bytes() == self.ak
        assert (s.admin_base / "conf" / "compiled.rules").read_bytes() == self.store
        assert (s.admin_base / "conf" / "gitolite.conf").read_bytes() == self.conf
        assert sorted(p.name for p in (s.admin_base / "keydir").iterdir()) == self.keydir
        assert (s.repo_base / "gitolite-admin.git" / "gl-last-good").read_text() == self.good
        if head_too:
            assert self.rev("HEAD") == self.head


# -- 3. AUTH_OPTIONS --------------------------------------------------------------------


def test_schema_pattern_is_the_one_ssh_authkeys_checks() -> None:
    schema = Path(__file__).parents[1] / "gitolite_triggers" / "schema" / "rc.schema.json"
    doc = json.loads(schema.read_text())
    assert doc["properties"]["AUTH_OPTIONS"]["pattern"] == AUTH_OPTIONS_PATTERN


BAD_OPTIONS = [
    ("no-port-forwarding,no-pty\n", "line break"),  # AUTH_OPTIONS: > (YAML folded scalar)
    ("no-pty\nssh-ed25519 AAAA", "line break"),
    ("no-pty\r", "line break"),
    ("no-pty restrict", "white space"),
    ("no-pty,\tno-X11-forwarding", "control character"),
    ('command="/bin/sh"', "'command' is not allowed"),
    ("cert-authority", "'cert-authority' is not allowed"),
    ("no-such-option", "'no-such-option' is not an sshd option"),
    ('from="10.0.0.1 other"', "white space"),
    ('from="a"b"', "'from' needs a value in double quotes"),
    ("from=10.0.0.1", "'from' needs a value in double quotes"),
    ("no-pty=1", "'no-pty' takes no value"),
    ("no-pty,", "is not an sshd option"),
    ("no-pty\u2028", "control character"),
]
GOOD_OPTIONS = [
    "",
    "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty",
    "restrict",
    'restrict,from="10.0.0.0/8,*.example.com,[::1]"',
    'no-pty,environment="GIT_PROTOCOL=version=2",expiry-time="20991231"',
]


@pytest.mark.parametrize("value, why", BAD_OPTIONS)
def test_bad_auth_options_refused_by_both_checks(value: str, why: str) -> None:
    assert re.search(AUTH_OPTIONS_PATTERN, value) is None  # what jsonschema does
    problem = auth_options_problem(value)
    assert problem is not None and why in problem, problem


@pytest.mark.parametrize("value", GOOD_OPTIONS)
def test_good_auth_options_accepted_by_both_checks(value: str) -> None:
    assert re.search(AUTH_OPTIONS_PATTERN, value) is not None
    assert auth_options_problem(value) is None


def test_auth_options_checks_agree_on_random_values() -> None:
    """The schema's pattern and ssh-authkeys' check accept exactly the same values, and
    nothing accepted can end the line or the option list (fixed seed: reproducible)."""
    rng = random.Random(10)
    atoms = [
        *FLAG_OPTIONS[:5],
        'from="10.0.0.1"',
        'environment="A=b"',
        'command="/bin/sh"',
        "cert-authority",
        ",",
        " ",
        "\n",
        "\r",
        "\t",
        '"',
        "\\",
        "=",
        "x",
        "\u2028",
        "\x00",
        "\x85",
    ]
    accepted = 0
    for _ in range(5000):
        value = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 6)))
        ok = re.search(AUTH_OPTIONS_PATTERN, value) is not None
        assert ok == (auth_options_problem(value) is None), repr(value)
        if ok:
            accepted += 1
            assert value.isprintable() and " " not in value, repr(value)
            assert "command" not in value and "cert-authority" not in value
    assert accepted > 100  # the sample did exercise the accepting side


def test_every_written_line_is_checked_again(keys: dict[str, Path]) -> None:
    """build() refuses a Key that did not come through the reader's checks."""
    ktype, blob = keys["carol"].read_text().split()[:2]
    opts = "no-pty"
    for key in (
        Key("carol\n", "keydir/x.pub", ktype, blob, ""),
        Key("carol", "keydir/x.pub", ktype, blob, "a\nno-pty ssh-ed25519 AAAA"),
        Key("carol", "keydir/x.pub", f'{ktype} x" {ktype}', blob, ""),
    ):
        with pytest.raises(AuthkeysError, match="authorized_keys NOT changed"):
            build("", [key], "/home/git/.gitolite/bin/gitolite-triggers", opts, "ak")
    with pytest.raises(AuthkeysError, match="AUTH_OPTIONS"):
        build("", [Key("carol", "k", ktype, blob, "")], "/x/gitolite-triggers", "no-pty\n", "ak")
    text, _ = build("", [Key("carol", "k", ktype, blob, "c")], "/x/gitolite-triggers", opts, "ak")
    assert f'command="/x/gitolite-triggers shell carol",no-pty {ktype} {blob} c' in text


def test_folded_auth_options_rc_check_names_file_line(server: Server) -> None:
    frag = server.write_rc(
        "# no more agent forwarding\nAUTH_OPTIONS: >\n  no-port-forwarding,no-pty\n",
        name="50-auth.yaml",
    )
    r = server.cli("rc", "check")
    assert r.returncode == 1
    assert f"{frag}:2:" in r.stderr and "AUTH_OPTIONS" in r.stderr, r.stderr
    assert "line break" in r.stderr


@pytest.mark.parametrize("value", ["no-port-forwarding,no-pty\n", "no-pty restrict"])
def test_bad_auth_options_keep_the_last_good_keys(
    server: Server, keys: dict[str, Path], admin: Path, value: str
) -> None:
    """An admin push after a bad AUTH_OPTIONS edit: the keys in force are not touched."""
    before = ak_path(server).read_bytes()
    assert b'command="' in before
    server.write_rc(f"AUTH_OPTIONS: {json.dumps(value)}\n", name="50-auth.yaml")
    (admin / "keydir" / "alice.pub").write_text(keys["alice"].read_text())
    commit_all(admin, server.env, "alice")
    # The rc in force stays the last good one (docs/reliability.md): the push is
    # applied with the good AUTH_OPTIONS, and the bad value never reaches the file.
    r = push_as(server, admin, "admin")
    assert r.returncode == 0, r.stderr
    after = ak_path(server).read_text()
    assert "alice" in after and value.strip() not in after
    assert after.count(",no-pty") == before.decode().count(",no-pty") + 1  # the good options
    r = server.cli("rc", "check")
    assert "50-auth.yaml:1:" in r.stderr and "AUTH_OPTIONS" in r.stderr, r.stderr
    r = server.cli("trigger", "POST_COMPILE")
    assert r.returncode == 0 and "running on the last good rc" in r.stderr, r.stderr
    assert ak_path(server).read_text() == after
    # Without a last good rc, the same edit fails closed: nothing is applied.
    (server.home / ".gitolite.rc.yaml.last-good").unlink()
    server.write_rc(f"AUTH_OPTIONS: {json.dumps(value)}\n# again\n", name="50-auth.yaml")
    r = server.cli("trigger", "POST_COMPILE")
    assert r.returncode != 0 and "AUTH_OPTIONS" in r.stderr
    assert ak_path(server).read_text() == after


def _plant_cached_auth_options(server: Server, value: str) -> None:
    """Put ``value`` in the rc cache, as a version without the schema check would have
    cached it (the cache is keyed by the rc files' stamps, not by the package version)."""
    assert server.cli("rc", "show", "AUTH_OPTIONS").returncode == 0  # builds the cache
    cache = Path(str(server.rc_file) + ".cache")
    data = cache.read_bytes()
    magic, _, body = data.partition(b"\n")
    doc = marshal.loads(body)
    settings = doc.get(
        "settings", doc
    )  # rc/__init__.py's cache layout: the settings in their own dict
    assert "AUTH_OPTIONS" in settings
    settings["AUTH_OPTIONS"] = value
    cache.write_bytes(magic + b"\n" + marshal.dumps(doc))
    assert value in server.cli("rc", "show", "AUTH_OPTIONS").stdout  # the cache is used


@pytest.mark.parametrize("value", ["no-port-forwarding,no-pty\n", "no-pty restrict"])
def test_ssh_authkeys_refuses_bad_auth_options_itself(
    server: Server, keys: dict[str, Path], admin: Path, value: str
) -> None:
    """Defence in depth: a bad value that got past the schema (a stale cache) is refused by
    ssh-authkeys, which exits non-zero naming AUTH_OPTIONS and writes nothing."""
    before = ak_path(server).read_bytes()
    _plant_cached_auth_options(server, value)
    (server.admin_base / "keydir" / "alice.pub").write_text(keys["alice"].read_text())
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 1
    assert "AUTH_OPTIONS in the rc is" in r.stderr and "authorized_keys was NOT changed" in r.stderr
    assert ak_path(server).read_bytes() == before


def test_good_auth_options_written_and_parsed_by_ssh_keygen(
    server: Server, keys: dict[str, Path], admin: Path
) -> None:
    opts = 'restrict,from="10.0.0.0/8,127.0.0.1"'
    server.write_rc(f"AUTH_OPTIONS: '{opts}'\n", name="50-auth.yaml")
    (admin / "keydir" / "alice.pub").write_text(keys["alice"].read_text())
    commit_all(admin, server.env, "alice")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0 and "FATAL" not in r.stderr, r.stderr
    block = _block(server)
    assert len(block) == 2 and all(f'",{opts} ssh-ed25519 ' in ln for ln in block)
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(ak_path(server))], capture_output=True, text=True, check=True
    )
    assert len(listed.stdout.splitlines()) == 2


# -- 7. keydir file names and key text with a newline or control character ---------------


@pytest.mark.parametrize(
    "user, bad",
    [
        ("carol", False),
        ("bob@example.com", False),
        ("carol\n", True),
        ("carol\nx", True),
        ("@admins", True),
        ("carol\x1b[31m", True),
        ("", True),
        ("caröl", True),
    ],
)
def test_user_names_full_match(user: str, bad: bool) -> None:
    assert (user_problem(user) is not None) == bad


def test_user_from_filename_anchors_at_the_very_end() -> None:
    assert user_from_filename("carol.pub") == "carol"
    assert user_from_filename("carol@laptop.pub") == "carol"
    # '$' would match before the final newline and strip '.pub' anyway
    assert user_from_filename("carol.pub\n") == "carol.pub\n"
    assert user_problem(user_from_filename("carol.pub\n")) is not None


def _block(server: Server) -> list[str]:
    """The key lines of our block (the line naming the key index, a comment, left out)."""
    lines = ak_path(server).read_text().splitlines()
    block = lines[lines.index(START) + 1 : lines.index(END)]
    return [ln for ln in block if not ln.startswith(TOKEN_LINE)]


def test_newline_in_keydir_file_name_is_refused(
    server: Server, keys: dict[str, Path], admin: Path
) -> None:
    (admin / "keydir" / "carol\n.pub").write_text(keys["carol"].read_text())
    (admin / "keydir" / "alice.pub").write_text(keys["alice"].read_text())
    commit_all(admin, server.env, "carol with a newline, alice")
    r = push_as(server, admin, "admin")
    assert r.returncode == 0, r.stderr
    assert "keydir/carol\\n.pub: skipped: the file name has a control character" in r.stderr
    block = _block(server)
    assert key_blob(keys["carol"]) not in ak_path(server).read_text()
    assert key_blob(keys["alice"]) in "\n".join(block)
    # every line of the block is a forced command (none starts with a bare key)
    assert block and all(ln.startswith('command="') for ln in block)
    assert all(ln.count('"') == 2 for ln in block)


@pytest.mark.parametrize(
    "comment", ["carol\x1b[2Jhidden", "carol\x00", "carol\x7f", "ca\x85rol", "carol\rno-pty"]
)
def test_control_character_in_key_text_is_refused(
    server: Server, keys: dict[str, Path], comment: str
) -> None:
    kd = server.admin_base / "keydir"
    kd.mkdir(parents=True)
    ktype, blob = keys["carol"].read_text().split()[:2]
    (kd / "carol.pub").write_bytes(f"{ktype} {blob} {comment}\n".encode())
    (kd / "alice.pub").write_text(keys["alice"].read_text())
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    assert "keydir/carol.pub: skipped:" in r.stderr
    assert blob not in ak_path(server).read_text()
    assert key_blob(keys["alice"]) in ak_path(server).read_text()


# -- 5. symlinks and other non-files in the pushed conf/ and keydir/ ---------------------


@pytest.fixture
def secret(server: Server) -> Path:
    """A file of the server account's that no push may read (mode 0600, like a token)."""
    path = server.home / ".buildkite-token"
    path.write_text(f"{SECRET}\nrepo leaked\n  RW+ = {SECRET}\n")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    "link, target_kind, message",
    [
        ("conf/leak.conf", "secret", "conf/leak.conf: a symlink"),
        ("conf/sub", "home", "conf/sub: a symlink"),
        ("keydir/carol.pub", "secret", "keydir/carol.pub: a symlink"),
        ("keydir", "home", "'keydir' is a symlink; it must be a folder"),
    ],
)
def test_symlink_in_pushed_tree_refused(
    server: Server,
    admin: Path,
    secret: Path,
    link: str,
    target_kind: str,
    message: str,
) -> None:
    state = State(server)
    target = secret if target_kind == "secret" else server.home
    path = admin / link
    if path.is_dir():
        subprocess.run(["rm", "-r", str(path)], check=True)
    path.symlink_to(target)
    conf = GOOD_CONF + 'include "leak.conf"\ninclude "sub/.buildkite-token"\n'
    if link != "conf/sub":
        (admin / "conf" / "gitolite.conf").write_text(conf)
    commit_all(admin, server.env, "sneak a symlink in")
    r = push_as(server, admin, "admin")
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert "only plain files and folders" in r.stderr or "must be a folder" in r.stderr
    assert "refused: nothing was stored on the server" in r.stderr
    assert SECRET not in r.stdout + r.stderr and SECRET not in logs(server)
    state.assert_unchanged()
    assert "admin push refused" in logs(server)


def _commit_tree_with(server: Server, admin: Path, mode: str, obj: str, path: str) -> None:
    """Stage a raw tree entry (a gitlink or symlink) in the admin clone and commit it."""
    git(admin, "update-index", "--add", "--cacheinfo", f"{mode},{obj},{path}", env=server.env)
    git(admin, "commit", "-q", "-m", f"{mode} at {path}", env=server.env)


def test_submodule_in_pushed_conf_refused(server: Server, admin: Path) -> None:
    state = State(server)
    head = git(admin, "rev-parse", "HEAD", env=server.env).stdout.strip()
    _commit_tree_with(server, admin, "160000", head, "conf/sub")
    r = push_as(server, admin, "admin")
    assert r.returncode != 0
    assert "conf/sub: a submodule (gitlink); conf/ may hold only plain files" in r.stderr
    state.assert_unchanged()


def test_symlink_on_a_side_branch_is_not_checked(server: Server, admin: Path, secret: Path) -> None:
    """Only the checked-out branch is read by the server: a symlink elsewhere is the admin's."""
    (admin / "conf" / "leak.conf").symlink_to(secret)
    commit_all(admin, server.env, "side")
    r = push_as(server, admin, "admin", refspec="HEAD:refs/heads/side")
    assert r.returncode == 0, r.stderr


def test_post_update_refuses_a_symlink_that_got_in(
    server: Server, admin: Path, secret: Path
) -> None:
    """Second layer: a commit that reached the branch without the update hook (plumbing on
    the server) is not checked out or compiled by the admin push code."""
    state = State(server)
    (admin / "conf" / "leak.conf").symlink_to(secret)
    (admin / "conf" / "gitolite.conf").write_text(GOOD_CONF + 'include "leak.conf"\n')
    commit_all(admin, server.env, "symlink, pushed past the hooks")
    bad = git(admin, "rev-parse", "HEAD", env=server.env).stdout.strip()
    branch = f"refs/heads/{head_branch(server)}"
    # a local push on the server to another ref (its hooks do not check the tree of a ref
    # that is not checked out), then the branch moved by hand, without any hook
    r = git(
        admin,
        "push",
        "-q",
        str(server.repo_base / "gitolite-admin.git"),
        "HEAD:refs/heads/tmp",
        env={**server.env, "GL_BYPASS_ACCESS_CHECKS": "1"},
        check=False,
    )
    assert r.returncode == 0, r.stderr
    bare_git(server, "gitolite-admin", "update-ref", branch, bad)
    bare_git(server, "gitolite-admin", "update-ref", "-d", "refs/heads/tmp")
    code = (
        "import sys\n"
        "from gitolite_triggers.hooks.entry import post_update\n"
        "from gitolite_triggers.rc import load_rc\n"
        f"sys.exit(post_update(load_rc(), [{branch!r}]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        env={**server.env, "GL_USER": "admin", "GL_REPO": "gitolite-admin"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=server.home,
    )
    assert r.returncode == 1
    assert "FATAL: conf/leak.conf: a symlink" in r.stderr
    assert "but its rules are NOT in force" in r.stderr  # and a drift record says so
    assert SECRET not in r.stdout + r.stderr and SECRET not in logs(server)
    assert not (server.admin_base / "conf" / "leak.conf").exists()
    state.assert_unchanged(head_too=False)


def _compile(server: Server) -> subprocess.CompletedProcess[str]:
    return server.cli("compile", timeout=30)


@pytest.mark.parametrize(
    "include, make, message",
    [
        ("leak.conf", "symlink", "include 'leak.conf' refused: 'leak.conf' is a symlink"),
        ("*.conf", "symlink", "include 'leak.conf' refused: 'leak.conf' is a symlink"),
        ("sub/*.conf", "dirlink", "include 'sub/leak.conf' refused: 'sub' is a symlink"),
        ("leak.conf", "fifo", "include 'leak.conf' refused: it is a fifo, not a plain file"),
        ("/home/x/leak.conf", None, "include '/home/x/leak.conf' refused: an include must name"),
        ("../leak.conf", None, "include '../leak.conf' refused: an include must name"),
        ("{..,x}/leak.conf", "outside", "include '../leak.conf' refused: '../leak.conf' leaves"),
    ],
)
def test_conf_reader_reads_nothing_outside_conf(
    server: Server, admin: Path, secret: Path, include: str, make: str | None, message: str
) -> None:
    """Third layer, whatever is on disk in $GL_ADMIN_BASE/conf: the parser opens every file
    with O_NOFOLLOW from inside conf/, and reads only plain files."""
    conf = server.admin_base / "conf"
    store = (conf / "compiled.rules").read_bytes()
    (conf / "gitolite.conf").write_text(GOOD_CONF + f'include "{include}"\n')
    if make == "symlink":
        (conf / "leak.conf").symlink_to(secret)
    elif make == "dirlink":
        (server.home / "outside").mkdir()
        (server.home / "outside" / "leak.conf").write_text(secret.read_text())
        (conf / "sub").symlink_to(server.home / "outside")
    elif make == "fifo":
        os.mkfifo(conf / "leak.conf")
    elif make == "outside":
        (server.admin_base / "leak.conf").write_text(secret.read_text())
    started = time.monotonic()
    r = _compile(server)
    assert time.monotonic() - started < 20  # a fifo is not opened for a blocking read
    assert r.returncode == 1
    assert f"conf/gitolite.conf:6: {message}" in r.stderr, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert (conf / "compiled.rules").read_bytes() == store


def test_symlinked_main_conf_refused(server: Server, admin: Path, secret: Path) -> None:
    conf = server.admin_base / "conf"
    (conf / "gitolite.conf").unlink()
    (conf / "gitolite.conf").symlink_to(secret)
    r = _compile(server)
    assert r.returncode == 1
    assert "conf/gitolite.conf:0: refused: 'gitolite.conf' is a symlink" in r.stderr
    assert SECRET not in r.stdout + r.stderr


def test_keydir_fifo_and_symlinked_folder_skipped(
    server: Server, keys: dict[str, Path], secret: Path
) -> None:
    kd = server.admin_base / "keydir"
    kd.mkdir(parents=True)
    (kd / "alice.pub").write_text(keys["alice"].read_text())
    os.mkfifo(kd / "pipe.pub")
    outside = server.home / "outside"
    outside.mkdir()
    (outside / "carol.pub").write_text(keys["carol"].read_text())
    (kd / "people").symlink_to(outside)
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    assert "keydir/pipe.pub: skipped: not a plain file" in r.stderr
    assert "keydir/people: skipped: a symlink" in r.stderr
    text = ak_path(server).read_text()
    assert key_blob(keys["alice"]) in text and key_blob(keys["carol"]) not in text


# -- 14. private keys in keydir ---------------------------------------------------------

PRIVATE = "this is a PRIVATE key: remove it from the admin repo's history"


@pytest.mark.parametrize("name", ["carol.pub", "carol", "people/carol@laptop.pub"])
def test_private_key_push_refused_and_not_stored(
    server: Server, keys: dict[str, Path], admin: Path, name: str
) -> None:
    state = State(server)
    private = keys["carol"].with_suffix("")
    target = admin / "keydir" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(private.read_bytes())
    commit_all(admin, server.env, "oops: the private key")
    blob = git(admin, "hash-object", str(target), env=server.env).stdout.strip()
    r = push_as(server, admin, "admin")
    assert r.returncode != 0
    assert f"FATAL: keydir/{name}: {PRIVATE}" in r.stderr, r.stderr
    assert "nothing was stored on the server" in r.stderr
    output = r.stdout + r.stderr + logs(server)
    assert not [ln for ln in private_lines(keys["carol"]) if ln in output]
    # the refused push left nothing: the branch, and not even the object (quarantine)
    state.assert_unchanged()
    assert bare_git(server, "gitolite-admin", "cat-file", "-e", blob, check=False).returncode != 0


def test_private_key_in_history_refused_even_if_removed_later(
    server: Server, keys: dict[str, Path], admin: Path
) -> None:
    state = State(server)
    (admin / "keydir" / "carol.pub").write_bytes(keys["carol"].with_suffix("").read_bytes())
    commit_all(admin, server.env, "oops")
    (admin / "keydir" / "carol.pub").write_text(keys["carol"].read_text())
    commit_all(admin, server.env, "the public key instead")
    r = push_as(server, admin, "admin")
    assert r.returncode != 0
    assert f"keydir/carol.pub: {PRIVATE}" in r.stderr
    state.assert_unchanged()


def test_private_key_on_disk_never_reaches_authorized_keys(
    server: Server, keys: dict[str, Path]
) -> None:
    kd = server.admin_base / "keydir"
    kd.mkdir(parents=True)
    (kd / "alice.pub").write_text(keys["alice"].read_text())
    (kd / "carol.pub").write_bytes(keys["carol"].with_suffix("").read_bytes())
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    assert f"keydir/carol.pub: REFUSED: {PRIVATE}" in r.stderr
    assert "lines" not in r.stderr  # not reported as "it has 7 lines"
    text = ak_path(server).read_text()
    assert key_blob(keys["alice"]) in text
    for ln in private_lines(keys["carol"]):
        assert ln not in text and ln not in r.stderr


def test_setup_refuses_a_private_key(server: Server, keys: dict[str, Path], tmp_path: Path) -> None:
    pub = tmp_path / "admin.pub"
    pub.write_bytes(keys["admin"].with_suffix("").read_bytes())
    r = server.cli("setup", "--pubkey", str(pub))
    assert r.returncode == 1
    assert PRIVATE in r.stderr
    assert not [ln for ln in private_lines(keys["admin"]) if ln in r.stdout + r.stderr]
    assert not server.admin_base.exists()


def test_private_key_formats(tmp_path: Path, keys: dict[str, Path]) -> None:
    pem = tmp_path / "pem"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-m", "PEM", "-N", "", "-f", str(pem)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    assert pem.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert is_private_key(pem.read_bytes())
    assert is_private_key(keys["carol"].with_suffix("").read_bytes())  # OpenSSH format
    assert is_private_key(b"\xef\xbb\xbf-----BEGIN PRIVATE KEY-----\nMIIE\n")  # PKCS#8
    assert is_private_key(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\r\nMIIE\r\n")
    assert is_private_key(b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nx\n")
    assert is_private_key(b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n")
    assert not is_private_key(keys["carol"].read_bytes())
    assert not is_private_key(pem.with_suffix(".pub").read_bytes())
    assert not is_private_key(b"ssh-ed25519 AAAA my PRIVATE KEY laptop\n")


def test_update_hook_refuses_when_pre_receive_is_not_linked_yet(
    server: Server, keys: dict[str, Path], admin: Path
) -> None:
    """An admin repo set up before pre-receive was linked there: update still refuses."""
    state = State(server)
    (server.repo_base / "gitolite-admin.git" / "hooks" / "pre-receive").unlink()
    (admin / "keydir" / "carol.pub").write_bytes(keys["carol"].with_suffix("").read_bytes())
    commit_all(admin, server.env, "oops")
    r = push_as(server, admin, "admin")
    assert r.returncode != 0
    assert f"keydir/carol.pub: {PRIVATE}" in r.stderr
    assert "the ref was not updated" in r.stderr
    assert not [ln for ln in private_lines(keys["carol"]) if ln in r.stderr + logs(server)]
    state.assert_unchanged()
    # ... and that push re-linked it, so the next one is refused before anything is stored
    assert (server.repo_base / "gitolite-admin.git" / "hooks" / "pre-receive").is_symlink()
