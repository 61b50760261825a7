"""Test-only fault injection: ``point(name)`` kills the process there when a test asks for it.

The fault-injection suite (tests/faults/) must kill an admin push, ``compile``, ``setup``
and the updaters at each of their steps. A test sets ``GL_FAULT=<point>`` (``fnmatch``
patterns allowed, e.g. ``commit:op:*``) in the environment of the process it starts, and
the process SIGKILLs itself when it reaches that point.

Inert in production (docs/security.md): the variable is ignored unless the flag file
``FLAG`` exists as a regular file owned by root and writable by no one else. An ssh user
cannot set the variable (the forced command's environment is cleaned) nor make that file;
an account without root cannot make it either. ``GL_FAULT_LOCK_WAIT`` (seconds an admin
push waits for another one) is honoured under the same condition only.
"""

from __future__ import annotations

import os

FLAG = "/etc/gitolite-triggers/fault-injection-enabled"
_enabled: bool | None = None


def enabled() -> bool:
    """True when the root-owned flag file exists (checked once per process)."""
    global _enabled
    if _enabled is None:
        import stat

        try:
            st = os.lstat(FLAG)
        except OSError:
            _enabled = False
        else:
            _enabled = stat.S_ISREG(st.st_mode) and st.st_uid == 0 and not (st.st_mode & 0o022)
    return _enabled


def point(name: str) -> None:
    """A step boundary: die here (SIGKILL, no cleanup) if a test asked for this point."""
    wanted = os.environ.get("GL_FAULT")
    if not wanted or not enabled():
        return
    from fnmatch import fnmatchcase

    if fnmatchcase(name, wanted):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def setting(name: str, default: float) -> float:
    """A test-only tunable (``GL_FAULT_<NAME>``), or ``default`` outside the tests."""
    raw = os.environ.get(f"GL_FAULT_{name}")
    if raw is None or not enabled():
        return default
    try:
        return float(raw)
    except ValueError:
        return default
