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

Stricter than gitolite, on purpose (docs/conf.md): nothing is followed out of keydir/
(symlinks and non-files are skipped, every file is opened with O_NOFOLLOW); a private
key, whatever its file name, is refused and never shown; a file not ending in ``.pub``
is named in a warning; user names match gitolite's pattern as a whole (a name ending in
a newline is refused), and a control character in a name or key refuses it. AUTH_OPTIONS
is checked against sshd's option syntax before anything is read: a bad value stops the
run and leaves authorized_keys as it was.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitolite_triggers.authoptions import auth_options_problem, has_control
from gitolite_triggers.errors import Fatal
from gitolite_triggers.postcompile.common import guarded, parse_call, warn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from gitolite_triggers.postcompile.plan import Plan
    from gitolite_triggers.rc import Rc

PROG = "ssh-authkeys"
START = "# gitolite-triggers start"
END = "# gitolite-triggers end"
MAX_KEY_FILE = 64 * 1024  # an RSA-16384 public key is under 3 KB; a certificate under 20 KB

# Every pattern below is matched with fullmatch (or ends in \Z): '$' would also match
# before a final newline, and a newline in a user name or key would start a new line in
# authorized_keys, one without command=.
_USER_FROM_FILE = re.compile(r"(@[^.]+)?\.pub\Z")
# A key line: type, base64 blob, optional comment. No options in front (they would
# let a key file change what sshd lets its owner do).
_KEY_LINE = re.compile(r"([a-z0-9][a-z0-9@.-]*)[ \t]+([A-Za-z0-9+/]+={0,3})(?:[ \t]+(.*))?")
_KEY_ANYWHERE = re.compile(
    r"(?:^|[\s,])((?:ssh|ecdsa|sk)-[a-z0-9@.-]+)[ \t]+([A-Za-z0-9+/]+={0,3})(?=\s|\Z)"
)
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+-]+")


class AuthkeysError(Fatal):
    """Something that stops the run before anything is written (``guarded`` reports it)."""


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
    return _USER_FROM_FILE.sub("", name, count=1)


def user_problem(user: str) -> str | None:
    """Why ``user`` (from a key file's name) cannot be a user, or None.

    gitolite's USERNAME_PATT, matched whole (names.is_user_name), minus the leading '@'
    it tolerates: a user called '@admins' would get the rules written for the group.
    """
    from gitolite_triggers.names import is_user_name

    if not user:
        return "the file name gives no user name"
    if user.startswith("@") or not is_user_name(user):
        shown = user.encode("unicode_escape").decode("ascii")
        return f"'{shown}' is not a valid user name"
    return None


def parse_key_line(line: str) -> Key | str:
    """One public key line as a Key (user and source unset), or why it is not one."""
    line = line.lstrip("\ufeff")
    if has_control(line.replace("\t", " ")):
        return "line 1 has a control character"
    m = _KEY_LINE.fullmatch(line)
    if not m:
        return "line 1 is not a public key ('type base64 [comment]', no options)"
    return Key("", "", m.group(1), m.group(2), (m.group(3) or "").strip())


def check_key_text(data: bytes) -> Key | str:
    """A key file's bytes as a Key (user and source unset), or why it is not one key.

    A private key is named as such and nothing of it is shown.
    """
    from gitolite_triggers.keyfile import ADVICE, PRIVATE_KEY_MESSAGE, is_private_key

    if is_private_key(data):
        return f"{PRIVATE_KEY_MESSAGE} ({ADVICE})"
    if len(data) > MAX_KEY_FILE:
        return f"it is larger than {MAX_KEY_FILE // 1024} KiB: not a public key"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    lines = [ln.strip() for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    if len(lines) != 1:
        return "it is empty" if not lines else f"it has {len(lines)} lines; put one key per file"
    return parse_key_line(lines[0])


def _keydir_entries(keydir: Path) -> list[tuple[str, str]]:
    """(path relative to keydir, kind) for everything below it, sorted; no symlink followed.

    kind: "file", "symlink" or "other" (fifo, socket, device). Folders are walked.
    """
    found: list[tuple[str, str]] = []
    todo = [""]
    while todo:
        rel = todo.pop()
        with os.scandir(keydir / rel if rel else keydir) as it:
            for entry in it:
                sub = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_symlink():
                    found.append((sub, "symlink"))
                elif entry.is_dir(follow_symlinks=False):
                    todo.append(sub)
                elif entry.is_file(follow_symlinks=False):
                    found.append((sub, "file"))
                else:
                    found.append((sub, "other"))
    return sorted(found)


def read_key_files(
    keydir: Path, files: list[tuple[str, str]] | None = None
) -> tuple[list[Key], list[str]]:
    """Parse every ``*.pub`` under ``keydir`` (sorted); return (keys, warnings).

    Every file is looked at, so that a private key is caught whatever its name; files
    not ending in ``.pub`` are then ignored with a warning. Nothing read is ever shown.
    ``files`` (an admin push's stage): the keydir's files as (path relative to keydir,
    the keydir folder to read it from), instead of walking ``keydir``.
    """
    from gitolite_triggers.safefile import UnsafeFile, read_inside

    keys: list[Key] = []
    warnings: list[str] = []
    if files is None:
        entries = [(rel, kind, str(keydir)) for rel, kind in _keydir_entries(keydir)]
    else:
        entries = [(rel, "file", root) for rel, root in sorted(files)]
    for rel, kind, root in entries:
        if has_control(rel):
            shown = "keydir/" + rel.encode("unicode_escape").decode("ascii")
            warnings.append(f"{shown}: skipped: the file name has a control character")
            continue
        shown = f"keydir/{rel}"
        is_pub = rel.endswith(".pub")
        if kind == "symlink":
            warnings.append(f"{shown}: skipped: a symlink (key files must be plain files)")
            continue
        if kind == "other":
            warnings.append(f"{shown}: skipped: not a plain file")
            continue
        try:
            data, _ = read_inside(root, rel, MAX_KEY_FILE)
        except UnsafeFile as e:
            warnings.append(f"{shown}: skipped: {e}")
            continue
        except OSError as e:
            warnings.append(f"{shown}: skipped: cannot read it ({e.strerror or e})")
            continue
        parsed = check_key_text(data)
        if isinstance(parsed, str) and "PRIVATE" in parsed:
            warnings.append(f"{shown}: REFUSED: {parsed}")
            continue
        if not is_pub:
            warnings.append(f"{shown}: ignored: not a .pub file (only keydir/**/*.pub are keys)")
            continue
        user = user_from_filename(rel.rsplit("/", 1)[-1])
        why = user_problem(user)
        if why:
            warnings.append(f"{shown}: skipped: {why}")
            continue
        if isinstance(parsed, str):
            warnings.append(f"{shown}: skipped: {parsed}")
            continue
        parsed.user, parsed.source = user, shown
        keys.append(parsed)
    return keys, warnings


def fingerprint_check(keys: list[Key]) -> tuple[list[Key], list[str]]:
    """Keep the keys ``ssh-keygen -l`` accepts, in one run; warn about the others."""
    if not keys:
        return [], []
    # Each line's comment is its index, so ssh-keygen's output (which silently omits
    # bad lines) tells us exactly which keys it accepted.
    data = "".join(f"{k.ktype} {k.blob} {i}\n" for i, k in enumerate(keys))
    try:
        proc = subprocess.run(
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
    if not _SAFE_PATH.fullmatch(script):
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


def _check_line_parts(k: Key, script: str, options: str) -> None:
    """Defence in depth: every line is exactly ``command="SCRIPT shell USER",OPTIONS KEY``.

    The parts were checked where they came from (the rc schema, the key file reader);
    this holds whatever a future caller passes: nothing with a control character, a
    quote or a space in the wrong place reaches the file.
    """
    checks = (
        ("AUTH_OPTIONS", auth_options_problem(options)),
        (k.source, user_problem(k.user)),
        (
            k.source,
            "the key has a control character" if has_control(k.text.replace("\t", " ")) else None,
        ),
        (
            k.source,
            None if _KEY_LINE.fullmatch(k.text) else "the key is not 'type base64 [comment]'",
        ),
        ("the forced command", None if _SAFE_PATH.fullmatch(script) else "not a plain path"),
    )
    bad = next((f"{what}: {why}" for what, why in checks if why), "")
    if bad:
        raise AuthkeysError(f"{bad}; authorized_keys NOT changed")


def key_line(k: Key, script: str, options: str) -> str:
    """The one authorized_keys line of a key (also what the key index answers sshd)."""
    opts = f",{options}" if options else ""
    return f'command="{script} shell {k.user}"{opts} {k.text}'


def build(
    existing: str,
    keys: list[Key],
    script: str,
    options: str,
    where: str,
    index_token: str | None = None,
    keys_in_file: bool = True,
) -> tuple[str, list[str]]:
    """The new authorized_keys text and any duplicate-key warnings.

    ``index_token`` names the key index that goes with this text (keyindex.py), on the
    line after the start marker; ``keys_in_file`` False leaves the keys out of the block
    (sshd then finds them through the index only: KEYS_IN_AUTHORIZED_KEYS in the rc).
    """
    from gitolite_triggers.keyindex import TOKEN_LINE

    before, after, _ = split_block(existing, where)
    warnings: list[str] = []
    outside = _foreign_keys(before + after)
    seen: dict[str, Key] = {}
    block = [START] + ([TOKEN_LINE + index_token] if index_token else [])
    for k in keys:
        _check_line_parts(k, script, options)
        if k.blob in outside:
            warnings.append(
                f"{k.source} duplicates a non-gitolite key in {where} (outside our block); sshd will use that line, not this one"
            )
        elif k.blob in seen:
            warnings.append(f"{k.source} duplicates {seen[k.blob].source}; sshd will ignore it")
        seen.setdefault(k.blob, k)
        if keys_in_file:
            block.append(key_line(k, script, options))
    block.append(END)
    return "\n".join([*before, *block, *after]) + "\n", warnings


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return ""


def run(
    home: Path,
    admin_base: Path,
    options: str,
    keys_in_file: bool = True,
    plan: Plan | None = None,
    keydir: Path | None = None,
    files: list[tuple[str, str]] | None = None,
) -> int:
    """Write authorized_keys (and the key index) from ``keydir`` (default admin_base/keydir).

    With ``plan`` (an admin push staging its state) the new file is only staged: the plan's
    commit renames it into place (plan.py); the index is written at once, as it is
    unreachable until authorized_keys names it.
    """
    problem = auth_options_problem(options)
    if problem:
        # Refuse before anything is touched: the keys in force stay in force.
        shown = (
            options.encode("unicode_escape").decode("ascii")
            if isinstance(options, str)
            else options
        )
        raise AuthkeysError(
            f"AUTH_OPTIONS in the rc is '{shown}': {problem}. authorized_keys was NOT changed "
            "(the last good keys stay in force); fix AUTH_OPTIONS (gitolite-triggers rc show AUTH_OPTIONS)"
        )
    keydir = keydir if keydir is not None else admin_base / "keydir"
    if files is None and (keydir.is_symlink() or not keydir.is_dir()):
        if keydir.is_symlink():
            warn(PROG, "keydir/ is a symlink: not read, authorized_keys not changed")
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
    if not ak.exists():  # gitolite's words: sshd had no file at all until now
        warn(PROG, "authorized_keys missing; creating a new one")

    keys, warnings = read_key_files(keydir, files)
    keys, more = fingerprint_check(keys)
    warnings.extend(more)
    folder, index, token = _prepare_index(ssh, keys, script, options, keys_in_file)
    new, dups = build(existing, keys, script, options, str(ak), token, keys_in_file)
    warnings.extend(dups)
    for w in warnings:
        warn(PROG, w)
    if not keys:
        warn(PROG, "you have no keys left: no one can reach the server through gitolite-triggers")
    if folder and token:
        # The index first, then authorized_keys naming it (the commit point): a crash in
        # between leaves the old pair in force (keyindex.py).
        if plan is None:
            _write_index(folder, token, index)
        else:  # staged too, renamed in before authorized_keys names it
            _stage_index(plan, folder, token, index)
    if new == existing and ak.exists() and (ak.stat().st_mode & 0o777) == 0o600:
        if folder and token:
            if plan is not None:
                plan.prune_keys(folder, [token])
            else:
                _prune(folder, {token})
        return 0
    # Someone else (an admin's editor, another compile) changed the file meanwhile:
    # refuse rather than lose their change.
    if _read(ak) != existing:
        raise AuthkeysError(
            f"{ak} changed while keys were being collected; nothing written, run it again"
        )
    from gitolite_triggers.postcompile.plan import Plan as _Plan

    staged = plan if plan is not None else _Plan()
    staged.put(ak, new.encode("utf-8", "surrogateescape"), 0o600)
    if folder and token:
        from gitolite_triggers.keyindex import token_in

        staged.prune_keys(folder, sorted({token, token_in(existing) or token}))
    if plan is None:
        from gitolite_triggers import faults

        faults.point("authkeys:staged")
        staged.commit()
    return 0


def _prepare_index(
    ssh: Path, keys: list[Key], script: str, options: str, keys_in_file: bool
) -> tuple[str, bytes, str]:
    """(index folder, index bytes, token) for these keys; ("", b"", "") if none is kept.

    Without our keys in authorized_keys the index is the only way in, so a place it
    cannot be kept stops the run; with them, it is a warning and the file works alone.
    """
    from gitolite_triggers import keyindex

    try:
        folder = keyindex.index_folder(str(ssh))
    except (keyindex.IndexBroken, OSError) as e:
        if not keys_in_file:
            raise AuthkeysError(
                f"cannot keep the key index ({e}); KEYS_IN_AUTHORIZED_KEYS is false, so "
                "nothing was written"
            ) from None
        warn(PROG, f"key index not written: {e}; sshd's AuthorizedKeysCommand will find no key")
        return "", b"", ""
    index = keyindex.build([(k.ktype, k.blob, key_line(k, script, options)) for k in keys])
    return folder, index, keyindex.token_of(index)


def _write_index(folder: str, token: str, index: bytes) -> None:
    from gitolite_triggers.keyindex import write_index

    try:
        write_index(folder, token, index)
    except OSError as e:
        raise AuthkeysError(
            f"cannot write the key index in {folder} ({e.strerror or e}); authorized_keys NOT changed"
        ) from None


def _stage_index(plan: Plan, folder: str, token: str, index: bytes) -> None:
    path = os.path.join(folder, f"{token}.idx")
    try:
        with open(path, "rb") as f:
            if f.read() == index and (os.fstat(f.fileno()).st_mode & 0o777) == 0o600:
                return  # the same keys: the same token, already there
    except OSError:
        pass
    plan.put(path, index, 0o600)
    plan.ops[-1]["force"] = True  # content-addressed: whoever wrote it, it is this content


def _prune(folder: str, keep: set[str]) -> None:
    from gitolite_triggers.keyindex import prune

    try:
        prune(folder, keep)
    except OSError as e:
        warn(PROG, f"old key indexes in {folder} not removed: {e.strerror or e}")


def main(argv: list[str]) -> int:
    return guarded(PROG, _main, argv)


def stage(
    rc: Rc,
    plan: Plan,
    keydir: Path,
    keydir_tree: str = "",
    stamp: str | None = None,
    files: Callable[[], list[tuple[str, str]] | None] | None = None,
) -> None:
    """An admin push's step: the keys of the pushed ``keydir`` staged into ``plan``.

    ``keydir_tree`` is the pushed commit's keydir tree object and ``stamp`` a file (in the
    admin repo's folder) recording what authorized_keys was last staged from. When the
    stamp says the live file is exactly what this keydir and rc make, nothing is read or
    written: a conf-only push on a site of 100,000 keys skips reading them all (``files``
    lists them, each where to read it, when they are read). Any doubt
    (another keydir, another AUTH_OPTIONS or KEYS_IN_AUTHORIZED_KEYS, an authorized_keys
    written or edited since, a missing key index) renders it all, as before.
    """
    from gitolite_triggers import paths

    home = Path(paths.home_dir())
    options = rc.get("AUTH_OPTIONS") or ""
    keys_in_file = rc.get("KEYS_IN_AUTHORIZED_KEYS", True) is not False
    inputs = {
        "version": 1,
        "keydir": keydir_tree,
        "options": options,
        "keys_in_file": keys_in_file,
        "admin_base": os.path.abspath(rc.admin_base),
    }
    if stamp and keydir_tree and _stamp_holds(stamp, inputs, home):
        return
    before = len(plan.ops)
    listed = files() if files is not None and keydir_tree else None
    run(home, Path(rc.admin_base), options, keys_in_file, plan=plan, keydir=keydir, files=listed)
    if stamp and keydir_tree:
        _stage_stamp(plan, stamp, inputs, home, plan.ops[before:])


STAMP_MAX = 64 * 1024


def _authorized_keys(home: Path) -> Path:
    ak = home / ".ssh" / "authorized_keys"
    return ak.resolve() if ak.is_symlink() else ak  # as run() does


def _stamp_holds(stamp: str, inputs: dict[str, object], home: Path) -> bool:
    """Is the live authorized_keys (and its index) the one staged from ``inputs``?"""
    import json

    from gitolite_triggers.postcompile.plan import ident

    try:
        with open(stamp, "rb") as f:
            doc = json.loads(f.read(STAMP_MAX))
        ak = _authorized_keys(home)
        if not isinstance(doc, dict) or doc.get("inputs") != inputs:
            return False
        if doc.get("path") != str(ak) or doc.get("ident") != ident(str(ak)):
            return False
        if (os.stat(ak).st_mode & 0o777) != 0o600 or (os.stat(home / ".ssh").st_mode & 0o077):
            return False
        index = doc.get("index")
        return isinstance(index, str) and (not index or os.path.isfile(index))
    except (OSError, ValueError, TypeError):
        return False


def _stage_stamp(
    plan: Plan, stamp: str, inputs: dict[str, object], home: Path, ops: list[dict[str, object]]
) -> None:
    """Stage the stamp of what this run staged (renamed in after authorized_keys)."""
    import json

    from gitolite_triggers.keyindex import INDEX_DIR, token_in
    from gitolite_triggers.postcompile.plan import ident

    ak = str(_authorized_keys(home))
    staged = next((str(op["src"]) for op in ops if op["op"] == "rename" and op["dst"] == ak), ak)
    seen = ident(staged)
    if seen is None:
        return  # no authorized_keys (no keydir): nothing to vouch for
    token = token_in(_read(Path(staged)))
    index = os.path.join(str(home / ".ssh" / INDEX_DIR), f"{token}.idx") if token else ""
    doc = {"inputs": inputs, "path": ak, "ident": seen, "index": index}
    plan.put(stamp, json.dumps(doc, sort_keys=True).encode(), 0o600)
    plan.ops[-1]["force"] = True  # ours alone, under the admin lock


def _main(argv: list[str]) -> int:
    from gitolite_triggers import paths
    from gitolite_triggers.rc import load_rc

    parse_call(argv)  # no per-trigger behaviour: keys are account-wide
    rc = load_rc()
    return run(
        Path(paths.home_dir()),
        Path(rc.admin_base),
        rc.get("AUTH_OPTIONS") or "",
        keys_in_file=rc.get("KEYS_IN_AUTHORIZED_KEYS", True) is not False,
    )
