"""A push's ``git receive-pack``, ended with its session.

A push runs the repo hooks under git, and the hooks run the rc's programs. git gets its
own process group (its hooks are in it). When the forced command is told to end
(SIGHUP: sshd with a pty, or SIGTERM: an admin, a service stop), git's group gets SIGTERM
(each hook's runner then kills its program's group: runner.py), SIGKILL after a grace,
and ``SessionEnded`` is raised for the session's closing log line.

A client that merely disconnects does not end a push early: by then the refs may have
moved, and post-receive's work (the push record, the builds to queue) must still be
done; every hook program has a timeout (TRIGGER_TIMEOUTS), so git ends by itself. (The
forced command's own programs, ACCESS_CHECK, PRE_GIT and POST_GIT, are killed at once
when the client disconnects: runner.py.) A fetch does not come here: upload-pack runs no
hooks and ends on a broken pipe.
"""

from __future__ import annotations

import os

from gitolite_triggers.runner import KILL_GRACE_SECONDS, SessionEnded


def run_push(argv: list[str]) -> int:
    """Run ``argv`` (git receive-pack) in its own process group; its exit code."""
    import _signal as signal  # type: ignore[import-not-found]  # C module: no enum

    pid = os.posix_spawnp(argv[0], argv, os.environ, setpgroup=0)
    why: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if not why:
            why.append(signum)
            raise _Signalled  # out of waitpid(), which PEP 475 would otherwise resume

    old = [(s, signal.signal(s, on_signal)) for s in (signal.SIGHUP, signal.SIGTERM)]
    try:
        try:
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except _Signalled:
            pass
        _end_group(pid)
        raise SessionEnded(
            f"session ended by signal {why[0]}: git receive-pack and its hooks killed",
            128 + why[0],
        )
    finally:
        for sig, handler in old:
            signal.signal(sig, handler)


class _Signalled(Exception):
    """SIGHUP or SIGTERM arrived while git ran."""


def _end_group(pid: int) -> None:
    """SIGTERM to git's group (the hooks kill their programs' groups on it), then SIGKILL."""
    import _signal as signal
    import time

    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if not done:
        os.waitpid(pid, 0)
