"""``guarded``: the one handler that reports what escapes a command or a repo hook.

cli.py runs every command under it and hooks/entry.py every repo hook; a refusal deep in
a session just raises ``errors.Fatal``. What it prints depends on what escaped and who is
listening (errors.py): a Fatal's own message, ``FATAL: <message>``, to anyone; a broken
rc's file:line messages or an unexpected error's type and message to an admin only, a
client getting one generic line with the session id. Each writes one ``die`` log line
(with the traceback for an unexpected error). Above glog, so that the log (which asks
who is listening) never imports the handler that writes to it.
"""

from __future__ import annotations

import sys

from gitolite_triggers.errors import (
    Fatal,
    RcError,
    client_refusal,
    session_ref,
    set_client,
    talking_to_client,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def guarded(run: Callable[[], int | None], client: bool) -> int:
    """Run a command; report what escapes it to the right audience; return the exit status."""
    set_client(client)
    try:
        status = int(run() or 0)
        sys.stdout.flush()  # here, not at exit: a closed pipe is caught below
        return status
    except BrokenPipeError:
        return _reader_gone()
    except SystemExit:  # argparse's --help or usage error: its output may meet a closed pipe
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _reader_gone()
        except (OSError, ValueError):
            pass
        raise
    except KeyboardInterrupt:
        return 130
    except Fatal as e:
        return refuse(e)
    except Exception as e:  # the one place an unexpected error is reported
        import traceback

        detail = f"{type(e).__name__}: {e}"
        return _fail(client, "internal error", detail, traceback.format_exc())


def _reader_gone() -> int:
    """Whoever read our stdout has closed it (``... | head``): stop quietly, as a program
    killed by SIGPIPE would, with its status (128 + 13). stdout is pointed at /dev/null
    so the interpreter's flush at exit finds nothing to complain about."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 141


def refuse(e: Fatal) -> int:
    """Report a refusal: ``FATAL: <message>`` on stderr, one ``die`` log line; its status.

    ``guarded`` calls it for every Fatal; call it directly only where a refusal must not
    end the process (the admin push's post-update still runs the rc's post-update list; a
    POST_COMPILE program returns a status). An RcError's message names server files: a
    client gets the generic refusal instead, wherever it is reported from.
    """
    if isinstance(e, RcError):
        return _fail(talking_to_client(), "server configuration error", str(e), "")
    _flush_stdout()
    print(f"FATAL: {e.message}", file=sys.stderr, flush=True)
    if e.log_fields:
        _log_die(*e.log_fields)
    return e.status


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()  # what the command printed comes before its refusal
    except (OSError, ValueError):
        pass


def _log_die(*fields: str) -> None:
    from gitolite_triggers import glog

    try:
        glog.log(None, "die", *fields)
    except Exception:  # reporting must not fail on an unwritable log
        pass


def _fail(client: bool, kind: str, detail: str, trace: str) -> int:
    _log_die(f"{kind}: {detail}", *([trace] if trace else []))
    _flush_stdout()
    if client:
        print(client_refusal(kind), file=sys.stderr)
    elif trace:
        print(
            f"FATAL: {kind}: {detail} (traceback in the log, ref {session_ref()})", file=sys.stderr
        )
    else:
        print(f"FATAL: {detail}", file=sys.stderr)
    return 1
