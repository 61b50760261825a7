"""gitolite's log format: ``<local YYYY-MM-DD.HH:MM:SS>\\t<GL_TID>\\t<fields...>``.

Many processes (every ssh session, every hook) append to the same monthly file, so a
line is written with exactly one ``write`` on an ``O_APPEND`` descriptor: the kernel
keeps such appends whole and in one piece on a local file system.

Fields carry client input (the ssh command, ref names), so every character that is not
printable (``str.isprintable()``: line and paragraph separators, NEL, C0/C1 controls, tab,
format characters, lone surrogates, unassigned code points) is escaped as ``\\xNN``,
``\\uNNNN`` or ``\\UNNNNNNNN``, and a backslash as ``\\\\`` so the escaping can be undone
unambiguously: one record is always exactly one line, whatever splits lines (Python's
``str.splitlines()`` knows eight line breaks; a tab inside a field would split a field).
This is stricter than gitolite, which only replaces CR/LF by ``<<newline>>``.

Where the log is: the rc's LOG_TEMPLATE. An inherited ``GL_LOGFILE`` is never read (an ssh
client could otherwise choose the file we append to). When the rc cannot be loaded (the
very error worth logging), the default ``~/.gitolite/logs/gitolite-YYYY-MM.log`` is used.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

_last_logfile: str | None = None  # the rc's log file, once this process has known it


def escape(text: str) -> str:
    """``text`` with every non-printable character and the backslash escaped (see above)."""
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c.isprintable():
            out.append(c)
        else:
            n = ord(c)
            out.append(
                f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"
            )
    return "".join(out)


def format_line(tid: str, fields: tuple[str, ...] | list[str]) -> bytes:
    """One log line: the fields tab-separated, each escaped so the record stays one line."""
    stamp = time.strftime("%Y-%m-%d.%H:%M:%S", time.localtime())
    clean = [escape(str(f)) for f in fields]
    return ("\t".join([stamp, escape(tid), *clean]) + "\n").encode("utf-8", "replace")


def default_logfile() -> str:
    """The log when the rc is unknown: the default LOG_TEMPLATE under the account's HOME."""
    from gitolite_triggers import paths

    now = time.localtime()
    return os.path.join(
        paths.home_dir(), ".gitolite", "logs", f"gitolite-{now.tm_year:04d}-{now.tm_mon:02d}.log"
    )


def _fallback_logfile() -> str:
    if _last_logfile:
        return _last_logfile
    try:
        from gitolite_triggers.rc import load_rc

        return load_rc().logfile()
    except Exception:  # a broken rc is the usual reason we are here
        return default_logfile()


def open_log(rc: Rc | None, logfile: str | None = None) -> int | None:
    """An ``O_APPEND`` descriptor on the log (creating its folder), or None with a warning."""
    global _last_logfile
    if logfile:
        path = logfile
    elif rc is not None:
        path = _last_logfile = rc.logfile()
    else:
        path = _fallback_logfile()
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    try:
        return os.open(path, flags, 0o600)
    except FileNotFoundError:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            return os.open(path, flags, 0o600)
        except OSError as e:
            _cannot_log(path, e)
    except OSError as e:
        _cannot_log(path, e)
    return None


def _cannot_log(path: str, e: OSError) -> None:
    from gitolite_triggers.errors import talking_to_client

    if not talking_to_client():  # a client is not told where the server's log is
        print(f"WARNING: cannot write log {path}: {e.strerror}", file=sys.stderr)


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
