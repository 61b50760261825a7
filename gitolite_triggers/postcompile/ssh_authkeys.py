"""``post-compile/ssh-authkeys``: write the keys in ``keydir/`` into ``~/.ssh/authorized_keys``.

Each ``keydir/**/*.pub`` file holds one public key; the user is the file name with
``(@[^.]+)?.pub`` stripped, as in gitolite (``alice@laptop.pub`` is a second key of
``alice``; ``bob@example.com.pub`` is user ``bob@example.com``). Every key becomes::

    command="<GL_ADMIN_BASE>/bin/gitolite-triggers shell USER",<AUTH_OPTIONS> <key>

(that script is a lean launcher of the installed package, written here: launcher.py).

inside a block between ``# gitolite-triggers start`` and ``# gitolite-triggers end``.
Every line outside the block is kept as it is, and the block stays where it was (at
the end the first time). The file is replaced atomically with mode 0600.

Better than gitolite, where one bad key file stops every key update: a file that is
not exactly one valid public key (garbage, several lines, options in front of the key,
an unusable user name) is skipped with a warning naming it, and the good keys are
still written. All keys are checked with ONE ``ssh-keygen -l`` run, not one per key.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gitolite_triggers.atomicfile import write_atomic
from gitolite_triggers.postcompile.common import guarded, parse_call, warn

PROG = "ssh-authkeys"
START = "# gitolite-triggers start"
END = "# gitolite-triggers end"

_USER_FROM_FILE = re.compile(r"(@[^.]+)?\.pub$")
# gitolite's USERNAME_PATT minus the leading '@' it tolerates: a user called '@admins'
# would get the rules written for the group @admins.
_USER_OK = re.compile(r"^[0-9a-zA-Z][-0-9a-zA-Z._@+]*$")
# A key line: type, base64 blob, optional comment. No options in front (they would
# let a key file change what sshd lets its owner do).
_KEY_LINE = re.compile(r"^([a-z0-9][a-z0-9@.-]*)[ \t]+([A-Za-z0-9+/]+={0,3})(?:[ \t]+(.*))?$")
_KEY_ANYWHERE = re.compile(
    r"(?:^|[\s,])((?:ssh|ecdsa|sk)-[a-z0-9@.-]+)[ \t]+([A-Za-z0-9+/]+={0,3})(?=\s|$)"
)
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


class AuthkeysError(Exception):
    """Something that stops the run before anything is written."""


@dataclass
class Key:
    user: str
    source: str  # "keydir/alice@laptop.pub", for messages
    ktype: str
    blob: str
    comment: str

    @property
    def text(self) -> str:
        return " ".join(p for p in (self.ktype, self.blob, self.comment) if p)


def user_from_filename(name: str) -> str:
    """gitolite's rule: strip ``(@[^.]+)?\\.pub`` from the end of the base name."""
    return _USER_FROM_FILE.sub("", name)


def read_key_files(keydir: Path) -> tuple[list[Key], list[str]]:
    """Parse every ``*.pub`` under ``keydir`` (sorted); return (keys, warnings)."""
    keys: list[Key] = []
    warnings: list[str] = []
    files = sorted(
        (p for p in keydir.rglob("*.pub") if p.is_file()),
        key=lambda p: p.relative_to(keydir).as_posix(),
    )
    for path in files:
        shown = f"keydir/{path.relative_to(keydir).as_posix()}"
        if path.is_symlink():
            warnings.append(f"{shown}: skipped: a symlink (key files must be plain files)")
            continue
        user = user_from_filename(path.name)
        if not _USER_OK.match(user):
            why = (
                f"'{user}' is not a valid user name" if user else "the file name gives no user name"
            )
            warnings.append(f"{shown}: skipped: {why}")
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            warnings.append(
                f"{shown}: skipped: cannot read it ({getattr(e, 'strerror', None) or e})"
            )
            continue
        lines = [ln.strip() for ln in text.splitlines()]
        lines = [ln for ln in lines if ln]
        if len(lines) != 1:
            what = (
                "it is empty" if not lines else f"it has {len(lines)} lines; put one key per file"
            )
            warnings.append(f"{shown}: skipped: {what}")
            continue
        m = _KEY_LINE.match(lines[0].lstrip("\ufeff"))
        if not m:
            warnings.append(
                f"{shown}: skipped: line 1 is not a public key ('type base64 [comment]', no options)"
            )
            continue
        keys.append(Key(user, shown, m.group(1), m.group(2), (m.group(3) or "").strip()))
    return keys, warnings


def fingerprint_check(keys: list[Key]) -> tuple[list[Key], list[str]]:
    """Keep the keys ``ssh-keygen -l`` accepts, in one run; warn about the others."""
    if not keys:
        return [], []
    # Each line's comment is its index, so ssh-keygen's output (which silently omits
    # bad lines) tells us exactly which keys it accepted.
    data = "".join(f"{k.ktype} {k.blob} {i}\n" for i, k in enumerate(keys))
    try:
        proc = subprocess.run(  # noqa: S603
            ["ssh-keygen", "-l", "-f", "-"], input=data, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise AuthkeysError(
            "ssh-keygen not found on PATH; cannot check any key, nothing written"
        ) from None
    good: set[int] = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].isdigit():
            good.add(int(parts[2]))
    kept = [k for i, k in enumerate(keys) if i in good]
    warnings = [
        f"{k.source}: skipped: fingerprinting failed (ssh-keygen -l does not accept it)"
        for i, k in enumerate(keys)
        if i not in good
    ]
    return kept, warnings


def split_block(text: str, where: str) -> tuple[list[str], list[str], int]:
    """Return (lines before the block, lines after it, number of old block lines).

    A missing block is an empty one at the end. Unbalanced markers are an error naming
    the line, and nothing is written: guessing could drop an admin's own keys.
    """
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.strip() == START]
    ends = [i for i, ln in enumerate(lines) if ln.strip() == END]
    if not starts and not ends:
        return lines, [], 0
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        bad = (
            starts[1] if len(starts) > 1 else ends[1] if len(ends) > 1 else (ends or starts)[0]
        ) + 1
        raise AuthkeysError(
            f"{where}:{bad}: unbalanced '{START}' / '{END}' markers; fix the file by hand (nothing was changed)"
        )
    return lines[: starts[0]], lines[ends[0] + 1 :], ends[0] - starts[0] - 1


def shell_command(admin_base: str) -> str:
    """The forced command's script: the account's lean ``gitolite-triggers`` launcher.

    Written (or refreshed) here, so every compile leaves authorized_keys pointing at a
    launcher that exists and runs this installation (see ``launcher.py`` for why it is
    not the console script in GL_BINDIR).
    """
    from gitolite_triggers.launcher import shell_launcher_path, write_shell_launcher

    script = shell_launcher_path(os.path.abspath(admin_base))
    if not _SAFE_PATH.match(script):
        raise AuthkeysError(
            f"{script!r}: the path has characters sshd's command= cannot carry safely"
        )
    return write_shell_launcher(os.path.abspath(admin_base))


def _foreign_keys(lines: list[str]) -> dict[str, int]:
    """Key blob -> line number for the keys outside our block (for duplicate warnings)."""
    found: dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith("#"):
            continue
        m = _KEY_ANYWHERE.search(line)
        if m:
            found.setdefault(m.group(2), n)
    return found


def build(
    existing: str, keys: list[Key], script: str, options: str, where: str
) -> tuple[str, list[str]]:
    """The new authorized_keys text and any duplicate-key warnings."""
    before, after, _ = split_block(existing, where)
    warnings: list[str] = []
    outside = _foreign_keys(before + after)
    seen: dict[str, Key] = {}
    block = [START]
    opts = f",{options}" if options else ""
    for k in keys:
        if k.blob in outside:
            warnings.append(
                f"{k.source} duplicates a non-gitolite-triggers key in {where}; sshd will use that line, not this one"
            )
        elif k.blob in seen:
            warnings.append(f"{k.source} duplicates {seen[k.blob].source}; sshd will ignore it")
        seen.setdefault(k.blob, k)
        block.append(f'command="{script} shell {k.user}"{opts} {k.text}')
    block.append(END)
    return "\n".join([*before, *block, *after]) + "\n", warnings


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return ""


def run(home: Path, admin_base: Path, options: str) -> int:
    keydir = admin_base / "keydir"
    if not keydir.is_dir():
        return 0  # gitolite: nothing to do before there is a keydir
    script = shell_command(str(admin_base))
    ssh = home / ".ssh"
    if not ssh.is_dir():
        ssh.mkdir(mode=0o700, parents=True)
    if ssh.stat().st_mode & 0o077:
        os.chmod(ssh, 0o700)
    ak = ssh / "authorized_keys"
    if ak.is_symlink():
        ak = ak.resolve()  # an admin's symlinked file: update its target, keep the link
    existing = _read(ak)  # before the (slower) key checks, so a change meanwhile is seen

    keys, warnings = read_key_files(keydir)
    keys, more = fingerprint_check(keys)
    warnings.extend(more)
    new, dups = build(existing, keys, script, options, str(ak))
    warnings.extend(dups)
    for w in warnings:
        warn(PROG, w)
    if not keys:
        warn(PROG, "you have no keys left: no one can reach the server through gitolite-triggers")
    if new == existing and ak.exists() and (ak.stat().st_mode & 0o777) == 0o600:
        return 0
    # Someone else (an admin's editor, another compile) changed the file meanwhile:
    # refuse rather than lose their change.
    if _read(ak) != existing:
        raise AuthkeysError(
            f"{ak} changed while keys were being collected; nothing written, run it again"
        )
    write_atomic(ak, new.encode("utf-8", "surrogateescape"), 0o600)
    return 0


def main(argv: list[str]) -> int:
    return guarded(PROG, _main, argv)


def _main(argv: list[str]) -> int:
    from gitolite_triggers import paths
    from gitolite_triggers.rc import load_rc

    parse_call(argv)  # no per-trigger behaviour: keys are account-wide
    rc = load_rc()
    try:
        return run(paths.home(), Path(rc.admin_base), rc.get("AUTH_OPTIONS") or "")
    except AuthkeysError as e:
        print(f"FATAL: {PROG}: {e}", file=sys.stderr)
        return 1
