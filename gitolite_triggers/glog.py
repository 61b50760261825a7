"""gitolite's log format: ``<local YYYY-MM-DD.HH:MM:SS>\\t<GL_TID>\\t<fields...>``.

Many processes (every ssh session, every hook) append to the same monthly file, so a
line is written with exactly one ``write`` on an ``O_APPEND`` descriptor: the kernel
keeps such appends whole and in one piece on a local file system.
"""

from __future__ import annotations

import os
import sys
import time

from gitolite_triggers.rc import Rc


def format_line(tid: str, fields: tuple[str, ...] | list[str]) -> bytes:
    """One log line; CR/LF inside a field become ``<<newline>>`` as in gitolite."""
    stamp = time.strftime("%Y-%m-%d.%H:%M:%S", time.localtime())
    clean = [
        str(f)
        .replace("\r\n", "<<newline>>")
        .replace("\n", "<<newline>>")
        .replace("\r", "<<newline>>")
        for f in fields
    ]
    return ("\t".join([stamp, tid, *clean]) + "\n").encode("utf-8", "replace")


def open_log(rc: Rc | None, logfile: str | None = None) -> int | None:
    """An ``O_APPEND`` descriptor on the log (creating its folder), or None with a warning."""
    path = logfile or os.environ.get("GL_LOGFILE") or (rc.logfile() if rc else None)
    if not path:
        return None
    try:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except FileNotFoundError:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as e:
            print(f"WARNING: cannot write log {path}: {e.strerror}", file=sys.stderr)
    except OSError as e:
        print(f"WARNING: cannot write log {path}: {e.strerror}", file=sys.stderr)
    return None


def write(fd: int | None, *fields: str) -> None:
    """One line, one ``write`` (so concurrent appenders never interleave inside a line)."""
    if fd is not None:
        os.write(fd, format_line(os.environ.get("GL_TID") or str(os.getpid()), fields))


def log(rc: Rc | None, *fields: str, logfile: str | None = None) -> None:
    """Append one line; a log that cannot be written is reported on stderr, not fatal."""
    fd = open_log(rc, logfile)
    if fd is None:
        return
    try:
        write(fd, *fields)
    finally:
        os.close(fd)
