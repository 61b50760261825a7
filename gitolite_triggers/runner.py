"""Fire a trigger sequence: the contract of docs/triggers.md.

Each entry's program gets ``argv = rc args + [TRIGGER NAME] + trigger args``, run
directly (never through a shell), one after another in rc order:

- missing or not executable: a warning on stderr and in the log, and the sequence goes on;
  except in the sequences that guard access (GUARDS: ACCESS_CHECK, ACCESS_1, ACCESS_2,
  PRE_GIT and the ``update``/``pre-receive`` hook lists), where a program that cannot be
  found or started denies (fail closed, whatever its ``on_failure``);
- exit status N != 0: the rest is skipped and N is returned, unless the entry says
  ``on_failure: continue``;
- every program runs in its own process group, with a timeout (its entry's ``timeout``,
  else the rc's TRIGGER_TIMEOUTS for the sequence, else its ``default``; 0: none); a
  timeout kills the program's whole process group and is a failure (status 124);
- the session's end kills it too: a client that disconnects while its program runs
  (sshd's process for the connection exits, our parent), or SIGHUP/SIGTERM to us
  (the forced command killing a push's git and hooks, an admin's kill). The group is
  killed, a ``warn`` line logged and ``SessionEnded`` (a Fatal) raised: the forced command
  writes the session's closing line, nothing more is shown to a client that is gone;
- an in-process callable that raises is a failure (status 1) reported by its message,
  never by a traceback on the client's screen.

Who reads our stderr matters (errors.talking_to_client): an admin running ``trigger``
sees every detail; an ssh client sees no program path or exception text, only a generic
line with the session id, while the detail goes to the log.

Programs' stdin is /dev/null unless the caller feeds data (the hooks do), because in
the ssh wrapper stdin is the git protocol stream. With ``stdout_to_stderr`` their stdout
goes to our stderr, for the same reason.
"""

from __future__ import annotations

import os
import sys
import time

from gitolite_triggers import glog, inproc
from gitolite_triggers.errors import Fatal, talking_to_client
from gitolite_triggers.programs import NotFound, Resolved, resolve
from gitolite_triggers.rc import Rc, bin_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, TextIO


TIMEOUT_STATUS = inproc.TIMEOUT_STATUS
DENIED_STATUS = 1  # a guard that cannot run
# Sequences whose programs may refuse access: one that cannot be found or run must deny.
GUARDS = frozenset({"ACCESS_CHECK", "ACCESS_1", "ACCESS_2", "PRE_GIT", "update", "pre-receive"})
KILL_GRACE_SECONDS = 2.0
_PARENT = os.getppid()  # who started us: for the forced command, sshd's session process


class SessionEnded(Fatal):
    """The session ended (the client disconnected, or a signal) while a program ran; the
    program's process group was killed. Nothing is shown to a client that is gone."""


class Options:
    """How the caller wants a sequence run."""

    __slots__ = ("stdout_to_stderr", "verbose", "dry_run", "stdin_data", "env", "out")

    def __init__(
        self,
        stdout_to_stderr: bool = False,
        verbose: bool = False,
        dry_run: bool = False,
        stdin_data: bytes | None = None,
        env: Mapping[str, str] | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.stdout_to_stderr = stdout_to_stderr
        self.verbose = verbose
        self.dry_run = dry_run
        self.stdin_data = stdin_data
        self.env: Mapping[str, str] = env or {}
        self.out = out  # where -v / --dry-run lines go (default: stderr)


def trigger_env(
    rc: Rc, repo: str | None = None, user: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment every trigger program sees: ours, plus the contract's GL_* variables."""
    env = dict(os.environ)
    env.setdefault("GL_TID", str(os.getpid()))
    env["GL_LOGFILE"] = rc.logfile()
    env["GL_REPO_BASE"] = rc.repo_base
    env["GL_ADMIN_BASE"] = rc.admin_base
    env.setdefault("GL_BINDIR", bin_dir())
    if user:
        env["GL_USER"] = user
    if repo:
        env["GL_REPO"] = env.get("GL_REPO") or repo
        # gitolite's env_options: drop every inherited GL_OPTION_*, then set the repo's.
        for key in [k for k in env if k.startswith("GL_OPTION_")]:
            del env[key]
        from gitolite_triggers.conf.query import env_options

        env.update(env_options(rc, repo))
    if extra:
        env.update(extra)
    return env


def fire(
    rc: Rc,
    name: str,
    *args: str,
    opts: Options | None = None,
    repo: str | None = None,
    user: str | None = None,
) -> int:
    """Run trigger sequence ``name``; return 0, or the status of the program that stopped it.

    ``repo``/``user`` default to the first two trigger args for the triggers whose
    contract starts with them, so GL_OPTION_* follow the repo as in gitolite.
    """
    return fire_entries(
        rc, name, rc.trigger_list(name), list(args), opts=opts, repo=repo, user=user
    )


def fire_entries(
    rc: Rc,
    name: str,
    entries: Sequence[Mapping[str, Any]],
    args: list[str],
    opts: Options | None = None,
    repo: str | None = None,
    user: str | None = None,
    name_in_argv: bool = True,
) -> int:
    """Run an explicit list of entries under trigger name ``name``.

    The repo hooks use this for their ``hooks:`` lists with ``name_in_argv=False``: those
    programs get git's own hook interface (rc args, then git's args), so existing hook
    scripts work unchanged.
    """
    opts = opts or Options()
    if not entries:
        return 0
    if repo is None and args and name_in_argv and name != "POST_COMPILE":
        repo = args[0]
    env = trigger_env(rc, repo=repo, user=user, extra=opts.env)
    out = opts.out or sys.stderr
    logfd = None if opts.dry_run else glog.open_log(rc)  # one descriptor for the sequence
    try:
        return _run_entries(rc, name, entries, args, opts, env, out, logfd, name_in_argv)
    finally:
        if logfd is not None:
            os.close(logfd)


def _run_entries(
    rc: Rc,
    name: str,
    entries: Sequence[Mapping[str, Any]],
    args: list[str],
    opts: Options,
    env: dict[str, str],
    out: TextIO,
    logfd: int | None,
    name_in_argv: bool,
) -> int:
    delta: inproc.EnvDelta | None = None
    for entry in entries:
        argv = [*entry["args"], name, *args] if name_in_argv else [*entry["args"], *args]
        try:
            target = resolve(entry["program"], rc.local_code)
        except NotFound as e:
            if name in GUARDS:
                return _cannot_run(name, entry, str(e), logfd)
            _tell(f"WARNING: skipped trigger '{entry['text']}' ({e})", None)
            glog.write(logfd, "warn", f"skipped trigger '{entry['text']}' ({e})")
            continue
        if opts.dry_run:
            print(f"would run: {_show(target)} {' '.join(map(_quote, argv))}".rstrip(), file=out)
            continue
        if opts.verbose:
            print(
                f"trigger {name}: running {_show(target)} {' '.join(map(_quote, argv))}", file=out
            )
        started = time.monotonic()
        timeout = rc.timeout_for(name, entry)
        if target.func is not None:
            if delta is None:
                delta = inproc.EnvDelta(env)
            rc_status, message = inproc.run(
                target, argv, delta, entry, opts.stdout_to_stderr, timeout
            )
        else:
            try:
                rc_status, message = _run_program(target, argv, env, entry, opts, timeout, name)
            except SessionEnded as e:
                glog.write(logfd, "warn", e.message)
                raise
            except _CannotStart as e:
                if name in GUARDS:
                    return _cannot_run(name, entry, str(e), logfd)
                rc_status, message = (
                    DENIED_STATUS,
                    f"FATAL: trigger program '{entry['program']}' {e}",
                )
        ms = int((time.monotonic() - started) * 1000)
        glog.write(logfd, "trigger", name, entry["program"], f"exit={rc_status}", f"{ms}ms")
        if message:
            glog.write(logfd, "warn", f"{name}: {message}")
            _tell(message, f"FATAL: {name} failed")
        if opts.verbose:
            print(f"trigger {name}: {entry['program']} exited {rc_status} in {ms} ms", file=out)
        if rc_status != 0:
            if entry.get("on_failure", "abort") == "continue":
                continue
            return rc_status
    return 0


def _tell(detail: str, for_client: str | None) -> None:
    """``detail`` to an admin; to a client only ``for_client`` (generic, with the session id)."""
    from gitolite_triggers.errors import client_refusal, talking_to_client

    if not talking_to_client():
        print(detail, file=sys.stderr)
    elif for_client is not None:
        print(client_refusal(for_client[len("FATAL: ") :]), file=sys.stderr)


def _cannot_run(name: str, entry: Mapping[str, Any], why: str, logfd: int | None) -> int:
    """A guard that cannot be found or started: deny, log why, tell the admin (not a client)."""
    detail = f"{name} program '{entry['text']}' cannot run ({why}): access denied (fail closed)"
    glog.write(logfd, "die", detail)
    _tell(f"FATAL: {detail}", "FATAL: server configuration error")
    return DENIED_STATUS


def _show(target: Resolved) -> str:
    return target.where if target.func is not None else target.command[-1]  # type: ignore[index]


def _quote(word: str) -> str:
    return word if word and all(c.isalnum() or c in "-_./:=@+,%" for c in word) else repr(word)


def _run_program(
    target: Resolved,
    argv: list[str],
    env: dict[str, str],
    entry: Mapping[str, Any],
    opts: Options,
    timeout: float | None,
    name: str,
) -> tuple[int, str]:
    import subprocess

    stdout = sys.stderr.fileno() if opts.stdout_to_stderr else None
    stdin = subprocess.PIPE if opts.stdin_data is not None else subprocess.DEVNULL
    if opts.stdout_to_stderr:
        sys.stdout.flush()
    sys.stderr.flush()
    try:
        proc = subprocess.Popen(  # argv list, never a shell
            [*target.command, *argv],  # type: ignore[misc]
            stdin=stdin,
            stdout=stdout,
            env=env,
            start_new_session=True,  # its own process group: killed whole, never orphaned
        )
    except OSError as e:
        raise _CannotStart(f"could not start: {e.strerror}") from None
    what = f"{name} program '{entry['program']}' (process group {proc.pid}) killed"
    try:
        with _Running(proc, what):
            if opts.stdin_data is not None:
                try:
                    proc.communicate(opts.stdin_data, timeout=timeout)
                except BrokenPipeError:
                    proc.wait(timeout=timeout)
            elif talking_to_client():
                _wait_watching_client(proc, timeout, what)
            else:
                proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return (
            TIMEOUT_STATUS,
            f"FATAL: trigger program '{entry['program']}' timed out after {timeout:g}s and was killed",
        )
    code = proc.returncode
    if code < 0:
        return (
            128 - code,
            f"FATAL: trigger program '{entry['program']}' was killed by signal {-code}",
        )
    return code, ""


def _end_on_signals(what: str) -> Callable[[], None]:
    """While a program runs, SIGHUP and SIGTERM raise SessionEnded (once), so the program's
    group is killed before we go; returns what puts the old handlers back."""
    import signal

    ending: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if not ending:  # a second signal while the group is being killed changes nothing
            ending.append(signum)
            raise SessionEnded(f"session ended by signal {signum}: {what}", 128 + signum)

    try:
        old = [(s, signal.signal(s, on_signal)) for s in (signal.SIGHUP, signal.SIGTERM)]
    except ValueError:  # not the main thread: signals are not ours to catch
        return lambda: None

    def restore() -> None:
        while old:
            sig, handler = old.pop()
            signal.signal(sig, handler)

    return restore


class _Running:
    """A started program's process group while we wait for it (``with``): SIGHUP/SIGTERM
    end the session (``_end_on_signals``), and any exception on the way out (a timeout, the
    session ending, ^C) kills the whole group before it goes on; the old handlers are back
    either way. One mechanism for trigger programs and for the conf's site programs."""

    __slots__ = ("proc", "restore")

    def __init__(self, proc: subprocess.Popen[bytes], what: str) -> None:
        self.proc = proc
        self.restore = _end_on_signals(what)

    def __enter__(self) -> _Running:
        return self

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        self.restore()
        if kind is not None:
            _kill_group(self.proc)


def _wait_watching_client(proc: subprocess.Popen[bytes], timeout: float | None, what: str) -> None:
    """``proc.wait(timeout)``, but a client that disconnects raises SessionEnded at once.

    The sign is our parent's end: sshd's per-connection process (``sshd: user@notty``) runs
    the forced command and exits when the connection is gone, leaving the session behind
    (git's receive-pack, for a hook). Closed pipes alone are no sign: a client may close its
    end of the channel once git has answered (the demo's ssh does), and POST_GIT must still
    run then. A pidfd on each process, one ``poll``: no polling loop.
    """
    import select
    import subprocess

    if os.getppid() != _PARENT:  # already gone: reparented before we got here
        raise SessionEnded(f"client disconnected: {what}")
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux 5.3+: the timeout still ends a hang
        proc.wait(timeout=timeout)
        return
    try:
        parentfd = os.pidfd_open(_PARENT)
    except OSError:  # gone between the two calls
        os.close(pidfd)
        raise SessionEnded(f"client disconnected: {what}") from None
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.register(parentfd, select.POLLIN)
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = {fd for fd, _ in poller.poll(None if left is None else int(left * 1000) + 1)}
            if pidfd in ready:
                proc.wait()
                return
            if parentfd in ready:
                raise SessionEnded(f"client disconnected: {what}")
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(proc.args, timeout or 0)
    finally:
        os.close(pidfd)
        os.close(parentfd)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    import signal
    import subprocess

    for sig, grace in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            # The leader is gone; make sure no straggler in its group survives either.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


class TimedOut(Exception):
    """``run_site_program``'s program ran past its timeout; its process group was killed."""


def run_site_program(
    argv: list[str],
    env: dict[str, str],
    timeout: float | None,
    stdin_data: bytes | None = None,
    capture_limit: int | None = None,
) -> tuple[int, bytes]:
    """Run a program the conf names (a VREF helper, a repo-specific hook) as trigger
    programs run: its own process group, killed whole at ``timeout`` (raises TimedOut)
    or when the session ends. ``stdin_data`` is fed to it (else /dev/null); with
    ``capture_limit`` its stdout is read, at most that many bytes plus one (then the group
    is killed: the caller sees the excess and refuses). Returns (status, stdout)."""
    import subprocess

    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.Popen(  # argv list, never a shell
        argv,
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture_limit is not None else None,
        env=env,
        start_new_session=True,  # its own process group: killed whole, never orphaned
    )
    deadline = None if timeout is None else time.monotonic() + timeout
    out = b""
    try:
        with _Running(proc, f"program '{argv[0]}' (process group {proc.pid}) killed"):
            if capture_limit is not None:
                out = _read_until(proc, capture_limit, deadline)
                if len(out) > capture_limit:
                    _kill_group(proc)
                    return proc.returncode or 1, out
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if stdin_data is not None:
                try:
                    proc.communicate(stdin_data, timeout=left)
                except BrokenPipeError:
                    proc.wait(timeout=left)
            else:
                proc.wait(timeout=left)
    except subprocess.TimeoutExpired:
        raise TimedOut(f"timed out after {timeout:g}s and was killed") from None
    code = proc.returncode
    return (code if code >= 0 else 128 - code), out


def _read_until(proc: subprocess.Popen[bytes], limit: int, deadline: float | None) -> bytes:
    """``proc``'s stdout up to EOF or ``limit`` + 1 bytes; TimeoutExpired at ``deadline``."""
    import select
    import subprocess

    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    chunks: list[bytes] = []
    size = 0
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while size <= limit:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise subprocess.TimeoutExpired(proc.args, 0)
        if not poller.poll(None if left is None else int(left * 1000) + 1):
            continue
        chunk = os.read(fd, min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    proc.stdout.close()
    return b"".join(chunks)


class _CannotStart(Exception):
    """The program exists but could not be started (bad interpreter, permissions...)."""
