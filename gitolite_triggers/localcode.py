"""Find a site program under ``LOCAL_CODE`` without leaving it (VREF helpers, repo hooks).

A name comes from the conf (``VREF/<name>/...``, ``option hook.<hook> = <name>``), which
sub-admins may edit, so it is held to a plain file name: no ``/``, not starting with
``.``, gitolite's name characters only. The file must be a regular, executable file whose
real path is inside the real ``LOCAL_CODE`` folder: a symlink that points out of it (at
``/bin/sh``, say) is refused, so whoever can name a program can only run what the site
put there.
"""

from __future__ import annotations

import os
import stat

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+@")
MAX_NAME = 128


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a LOCAL_CODE program, or None when it can."""
    if not name or len(name) > MAX_NAME:
        return "is empty or too long"
    if name.startswith(".") or not _NAME_CHARS.issuperset(name):
        return "must be a plain file name (letters, digits, - _ . + @; not starting with '.')"
    return None


def find(local_code: str | None, folder: str, name: str) -> str | None:
    """``LOCAL_CODE/<folder>/<name>`` when it is a safe executable program, else None."""
    if not local_code or name_problem(name):
        return None
    path = os.path.join(local_code, folder, name)
    try:
        real = os.path.realpath(path)
        base = os.path.realpath(local_code)
        st = os.stat(real)
    except OSError:
        return None
    if not real.startswith(base + os.sep) or not stat.S_ISREG(st.st_mode):
        return None
    if not os.access(real, os.X_OK):
        return None
    return real
