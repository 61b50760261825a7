"""post-compile/ssh-authkeys with real keys, real ssh-keygen, and a real authorized_keys file."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from gitolite_triggers.keyindex import TOKEN_LINE
from gitolite_triggers.postcompile.ssh_authkeys import END, START, user_from_filename
from tests.support.adminkeys import key_blob, make_key, run_post_compile, shell_script
from tests.support.server import Server

OPTS = "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: make_key(folder, name) for name in ("alice", "alice2", "bob", "carol", "root")}


def keydir(server: Server) -> Path:
    kd = server.admin_base / "keydir"
    kd.mkdir(parents=True, exist_ok=True)
    return kd


def authkeys(server: Server) -> Path:
    return server.home / ".ssh" / "authorized_keys"


def block_lines(text: str) -> list[str]:
    """The key lines of our block (the line naming the key index left out)."""
    lines = text.splitlines()
    block = lines[lines.index(START) + 1 : lines.index(END)]
    return [ln for ln in block if not ln.startswith(TOKEN_LINE)]


@pytest.mark.parametrize(
    "name, user",
    [
        ("alice.pub", "alice"),
        ("alice@laptop.pub", "alice"),
        ("bob@example.com.pub", "bob@example.com"),
        ("u@a.b@home.pub", "u@a.b"),
    ],
)
def test_user_from_filename(name: str, user: str) -> None:
    assert user_from_filename(name) == user


def test_good_keys_written_with_forced_command(server: Server, keys: dict[str, Path]) -> None:
    kd = keydir(server)
    (kd / "alice.pub").write_text(keys["alice"].read_text())
    (kd / "alice@laptop.pub").write_text(keys["alice2"].read_text())
    (kd / "people" / "deep").mkdir(parents=True)
    (kd / "people" / "deep" / "bob@example.com.pub").write_text(keys["bob"].read_text())

    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    ak = authkeys(server)
    text = ak.read_text()
    lines = block_lines(text)
    script = shell_script(server.admin_base)
    assert lines == [
        f'command="{script} shell alice",{OPTS} {keys["alice"].read_text().strip()}',
        f'command="{script} shell alice",{OPTS} {keys["alice2"].read_text().strip()}',
        f'command="{script} shell bob@example.com",{OPTS} {keys["bob"].read_text().strip()}',
    ]
    assert Path(script).is_absolute() and "gitolite-triggers launcher" in Path(script).read_text()
    assert stat.S_IMODE(ak.stat().st_mode) == 0o600
    assert stat.S_IMODE(ak.parent.stat().st_mode) == 0o700
    # sshd's own parser (ssh-keygen reads authorized_keys syntax) accepts every line.
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(ak)], capture_output=True, text=True, check=True
    )
    assert len(listed.stdout.splitlines()) == 3

    # Unchanged input: the file is not rewritten (same inode).
    inode = ak.stat().st_ino
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0 and ak.stat().st_ino == inode


def test_bad_keys_skipped_good_keys_still_written(server: Server, keys: dict[str, Path]) -> None:
    kd = keydir(server)
    (kd / "alice.pub").write_text(keys["alice"].read_text())
    (kd / "garbage.pub").write_text("this is not a key\n")
    fake = keys["bob"].read_text().split()
    (kd / "broken.pub").write_text(f"ssh-ed25519 {fake[1][:-8]}AAAAAAA= x\n")
    (kd / "multi.pub").write_text(keys["bob"].read_text() + keys["carol"].read_text())
    (kd / "opts.pub").write_text('command="/bin/sh" ' + keys["carol"].read_text())
    (kd / "empty.pub").write_text("\n")
    (kd / "carol.pub").write_text(keys["carol"].read_text())
    (kd / "not-a-key.txt").write_text("ignored (with a warning): not *.pub\n")
    (kd / "link.pub").symlink_to(keys["bob"])
    (kd / "@admins.x.pub").write_text(keys["bob"].read_text())
    (kd / "@laptop.pub").write_text(keys["bob"].read_text())

    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    for name in ("garbage.pub", "broken.pub", "multi.pub", "opts.pub", "empty.pub", "link.pub"):
        assert f"keydir/{name}: skipped" in r.stderr, (name, r.stderr)
    assert "multi.pub: skipped: it has 2 lines" in r.stderr
    assert "keydir/@admins.x.pub: skipped: '@admins.x' is not a valid user name" in r.stderr
    assert "keydir/@laptop.pub: skipped: the file name gives no user name" in r.stderr
    assert "fingerprinting failed" in r.stderr
    assert "keydir/not-a-key.txt: ignored: not a .pub file" in r.stderr
    lines = block_lines(authkeys(server).read_text())
    assert [ln.split('"')[1].split()[-1] for ln in lines] == ["alice", "carol"]
    assert key_blob(keys["alice"]) in lines[0] and key_blob(keys["carol"]) in lines[1]
    assert "/bin/sh" not in "\n".join(lines)


def test_foreign_lines_kept_and_block_replaced_in_place(
    server: Server, keys: dict[str, Path]
) -> None:
    ak = authkeys(server)
    ak.parent.mkdir(mode=0o755)
    root_line = f"no-pty {keys['root'].read_text().strip()}"
    ak.write_text(
        f"# the admin's own key\n{root_line}\n{START}\nstale line\n{END}\n# trailing comment\n"
    )
    ak.chmod(0o644)
    kd = keydir(server)
    (kd / "alice.pub").write_text(keys["alice"].read_text())
    (kd / "bob.pub").write_text(keys["bob"].read_text())

    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    text = ak.read_text().splitlines()
    assert text[0] == "# the admin's own key"
    assert text[1] == root_line
    assert text[2] == START and text[3].startswith(TOKEN_LINE) and text[6] == END
    assert "stale line" not in text
    assert text[7] == "# trailing comment"
    assert stat.S_IMODE(ak.stat().st_mode) == 0o600
    assert stat.S_IMODE(ak.parent.stat().st_mode) == 0o700

    # A key removed from keydir disappears from the block; foreign lines stay.
    (kd / "bob.pub").unlink()
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    text = ak.read_text()
    assert key_blob(keys["bob"]) not in text and key_blob(keys["alice"]) in text
    assert root_line in text and "# trailing comment" in text

    # A keydir key that duplicates the admin's own key is still written, with a warning.
    (kd / "sneaky.pub").write_text(keys["root"].read_text())
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert "keydir/sneaky.pub duplicates a non-gitolite key" in r.stderr  # gitolite's words


def test_unbalanced_markers_refused_file_untouched(server: Server, keys: dict[str, Path]) -> None:
    ak = authkeys(server)
    ak.parent.mkdir(mode=0o700)
    original = f"{keys['root'].read_text().strip()}\n{START}\nhalf a block\n"
    ak.write_text(original)
    (keydir(server) / "alice.pub").write_text(keys["alice"].read_text())
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 1
    assert r.stderr.startswith(f"FATAL: ssh-authkeys: {ak}:2: unbalanced")
    assert ak.read_text() == original
    dies = [ln for ln in server.log_text().splitlines() if "\tdie\t" in ln]  # guard.refuse's
    assert len(dies) == 1 and f"ssh-authkeys: {ak}:2: unbalanced" in dies[0]


def test_no_keydir_is_a_quiet_no_op(server: Server) -> None:
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0 and r.stderr == ""
    assert not authkeys(server).exists()


def test_no_keys_left_warns(server: Server) -> None:
    keydir(server)
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0
    assert "no keys left" in r.stderr
    assert "authorized_keys missing; creating a new one" in r.stderr  # gitolite's words
    assert block_lines(authkeys(server).read_text()) == []
    again = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert "missing" not in again.stderr  # only when there was no file


def test_symlinked_authorized_keys_updates_the_target(
    server: Server, keys: dict[str, Path]
) -> None:
    real = server.home / "elsewhere" / "keys"
    real.parent.mkdir()
    real.write_text("# kept\n")
    (server.home / ".ssh").mkdir(mode=0o700)
    authkeys(server).symlink_to(real)
    (keydir(server) / "alice.pub").write_text(keys["alice"].read_text())
    r = run_post_compile(server.env, "ssh-authkeys", "POST_COMPILE")
    assert r.returncode == 0, r.stderr
    assert authkeys(server).is_symlink()
    assert (
        real.read_text().startswith("# kept\n" + START)
        and key_blob(keys["alice"]) in real.read_text()
    )
