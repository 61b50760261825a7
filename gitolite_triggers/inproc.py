"""Run one in-process trigger program (a ``module:function`` or a built-in) as if it had
its own process: the trigger environment in ``os.environ``, stdout sent where the runner
sends a program's stdout, a timeout, and a status and message instead of an exception.

Whatever the program does to ``os.environ``, the caller's environment is put back
exactly as it was when the program returns, so the next program (and the session) is not
steered by it. runner.py decides what runs; this module only runs a callable.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from gitolite_triggers.programs import Resolved

TIMEOUT_STATUS = 124


class EnvDelta:
    """What turns ``os.environ`` into a program's environment (keys to set, keys to drop),
    and the caller's environment to put back, as bytes (``environ_snapshot``).

    Made once per sequence: between its programs the caller's environment is the same,
    because each program's changes are undone when it returns.
    """

    __slots__ = ("set", "drop", "caller", "undo")

    def __init__(self, env: Mapping[str, str]) -> None:
        current = os.environ
        self.set = {k: v for k, v in env.items() if current.get(k) != v}
        self.drop = [k for k in current if k not in env]
        self.caller = environ_snapshot()
        # (key, the caller's value or None) for every key the program's environment changes
        keys = [os.fsencode(k) for k in [*self.set, *self.drop]]
        self.undo = [(key, self.caller.get(key)) for key in keys]


def environ_snapshot() -> dict[bytes, bytes]:
    """A copy of the process environment as bytes, to compare before and after a program.

    The public view, ``dict(os.environb)``, encodes, looks up and decodes key by key in
    Python: ~20 µs for 80 variables, paid by every in-process program (more than the
    program). CPython keeps the same bytes in ``os.environ._data``, a plain dict whose copy
    is a C-level ~0.2 µs. It is only read and copied here, never written: every change
    still goes through ``os.environ``/``os.environb``, so putenv keeps the C environment
    (what a child process inherits) in step. Without ``_data`` (another Python), the public
    view; tests/test_runner.py checks that both give the same answer.
    """
    data = getattr(os.environ, "_data", None)
    return data.copy() if type(data) is dict else dict(os.environb)


class _Timeout(BaseException):
    """Raised in the main thread by SIGALRM when an in-process program overruns."""


def run(
    target: Resolved,
    argv: list[str],
    delta: EnvDelta,
    entry: Mapping[str, Any],
    stdout_to_stderr: bool = False,
    timeout: float | None = None,
) -> tuple[int, str]:
    """Call ``target.func(argv)``; return (status, message for the admin, "" if none).

    ``timeout`` is the entry's effective one (``Rc.timeout_for``), None for none."""
    old_handler = None
    if timeout:
        # ``_signal``, the C module ``signal`` wraps, is loaded at every interpreter's start;
        # ``signal`` itself imports enum and collections, a cost every fetch would pay since
        # every entry has a timeout (its default) and the shipped POST_GIT runs in-process.
        import _signal as signal  # type: ignore[import-not-found]

        def on_alarm(signum: int, frame: Any) -> None:
            raise _Timeout

        try:
            old_handler = signal.signal(signal.SIGALRM, on_alarm)
        except ValueError:  # not the main thread: no alarm to be had, run it without
            timeout = None
        else:
            signal.setitimer(signal.ITIMER_REAL, float(timeout))
    stdout = sys.stdout
    try:
        _enter(delta)
        try:
            if stdout_to_stderr:
                sys.stdout = sys.stderr
            result = target.func(list(argv))  # type: ignore[misc]
        finally:
            sys.stdout = stdout
            _leave(delta)
        return (int(result) if result else 0), ""
    except _Timeout:
        return (
            TIMEOUT_STATUS,
            f"FATAL: trigger program '{entry['program']}' timed out after {timeout:g}s",
        )
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0, ""
        if isinstance(code, int):
            return code, ""
        return 1, f"FATAL: trigger program '{entry['program']}' failed: {code}"
    except Exception as e:  # the contract: a message, never a traceback
        text = str(e) or type(e).__name__
        return 1, f"FATAL: trigger program '{entry['program']}' failed: {text}"
    finally:
        if timeout:
            import _signal as signal

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)


def _enter(delta: EnvDelta) -> None:
    """Give ``os.environ`` the program's environment."""
    environ = os.environ
    for k, v in delta.set.items():
        environ[k] = v
    for k in delta.drop:
        environ.pop(k, None)


def _leave(delta: EnvDelta) -> None:
    """Put the caller's environment back exactly, whatever the program changed."""
    environb = os.environb
    before = delta.caller
    for key, value in delta.undo:
        if value is None:
            environb.pop(key, None)
        else:
            environb[key] = value
    if environ_snapshot() != before:  # the program changed the environment itself
        for key in [key for key in environb if key not in before]:
            del environb[key]
        for key, value in before.items():
            if environb.get(key) != value:
                environb[key] = value
