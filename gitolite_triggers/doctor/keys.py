"""doctor: ``~/.ssh/authorized_keys`` against keydir/, by rendering it again.

The keys ssh-authkeys would write (the same reading of keydir/, the same line for each
key) are compared with the lines between our markers; the lines outside them are the
site's and are not looked at.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gitolite_triggers import paths
from gitolite_triggers.doctor import Problem
from gitolite_triggers.rc import Rc

FIX = "gitolite-triggers trigger POST_COMPILE"


def check(rc: Rc) -> list[Problem]:
    from gitolite_triggers.keyindex import TOKEN_LINE
    from gitolite_triggers.postcompile import ssh_authkeys as ak

    keydir = Path(rc.admin_base) / "keydir"
    if not keydir.is_dir() or keydir.is_symlink():
        return []  # nothing to render (ssh-authkeys does nothing either)
    path = Path(paths.home_dir()) / ".ssh" / "authorized_keys"
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        text = ""
    keys, _ = ak.read_key_files(keydir)
    keys, _ = ak.fingerprint_check(keys)
    options = rc.get("AUTH_OPTIONS")
    script = ak.shell_command(rc.admin_base)
    wanted = (
        sorted(ak.key_line(k, script, options) for k in keys)
        if rc.get("KEYS_IN_AUTHORIZED_KEYS", True)
        else []
    )
    lines = text.splitlines()
    if ak.START not in lines or ak.END not in lines:
        if not keys:
            return []
        return [Problem(f"{path} has no gitolite-triggers block: no key works", FIX, _render(rc))]
    block = lines[lines.index(ak.START) + 1 : lines.index(ak.END)]
    have = sorted(ln for ln in block if not ln.startswith(TOKEN_LINE))
    if have != wanted:
        missing = len(set(wanted) - set(have))
        extra = len(set(have) - set(wanted))
        return [
            Problem(
                f"{path} differs from keydir/: {missing} key line(s) missing or changed, "
                f"{extra} not from keydir/",
                FIX,
                _render(rc),
            )
        ]
    if os.stat(path).st_mode & 0o077:
        return [Problem(f"{path} is readable by others", FIX, _render(rc))]
    return []


def _render(rc: Rc) -> Callable[[], None]:
    def repair() -> None:
        from gitolite_triggers.postcompile import ssh_authkeys as ak

        ak.run(
            Path(paths.home_dir()),
            Path(rc.admin_base),
            rc.get("AUTH_OPTIONS"),
            bool(rc.get("KEYS_IN_AUTHORIZED_KEYS", True)),
        )

    return repair
