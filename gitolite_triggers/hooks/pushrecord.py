"""What a push updated, recorded by post-receive so POST_GIT programs can read it.

gitolite's POST_GIT cannot tell what a push changed; we can. The repo's post-receive
hook (running inside ``git receive-pack``, under the ssh session's ``GL_TID``) writes the
push's ``(old, new, refname)`` triples; a POST_GIT program of the same session reads them
back with ``updates_for(rc, os.environ["GL_TID"], repo)``.

Storage: ``$GL_ADMIN_BASE/push-records/<tid>/<repo with / as %2F>.updates``, one
``OLD NEW REFNAME`` line per update (git's own post-receive format; refnames hold no
spaces or newlines), written to a temp file and renamed into place, so a reader never
sees half a record. A fetch writes
nothing, so ``updates_for`` returns ``[]`` for it. Records older than ``MAX_AGE_SECONDS``
are removed by later ``record`` calls (at most once every ``SWEEP_EVERY_SECONDS``).

Push options (``git push -o ...``): git hands them to pre-receive and post-receive only,
as ``GIT_PUSH_OPTION_COUNT``/``GIT_PUSH_OPTION_<n>`` (receive-pack sets these itself;
the wrapper scrubs any GIT_* a client sends). ``push_options`` reads them, bounded; a
push with options also gets ``<repo>.options`` beside its updates (one option a line),
so a POST_GIT program, which runs after git has exited, sees them too (``options_for``).
"""

from __future__ import annotations

import os
import time

from gitolite_triggers.rc import Rc
from gitolite_triggers.refupdate import RefUpdate, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


MAX_AGE_SECONDS = 24 * 3600
MAX_PUSH_OPTIONS = 32  # read at most one more than this: the reader can say "too many"
MAX_PUSH_OPTION_LEN = 1024  # longer ones are cut to one more than this, for the same reason
SWEEP_EVERY_SECONDS = 600


def records_dir(rc: Rc) -> str:
    """``$GL_ADMIN_BASE/push-records``: a folder per session."""
    return os.path.join(rc.admin_base, "push-records")


def _safe(word: str) -> str:
    """A file-name-safe, reversible spelling of a tid or repo name."""
    out = word.replace("%", "%25").replace("/", "%2F")
    if out.startswith("."):
        out = "%2E" + out[1:]
    return out


def _path(rc: Rc, tid: str, repo: str) -> str:
    tid = tid or "no-tid"
    return os.path.join(records_dir(rc), _safe(tid), _safe(repo) + ".updates")


def push_options(environ: Mapping[str, str]) -> list[str]:
    """The push's options from git's variables: hostile input, so bounded in count and
    size (see MAX_*); a missing or malformed count is no options."""
    count = environ.get("GIT_PUSH_OPTION_COUNT", "")
    if not (count.isascii() and count.isdigit()) or len(count) > 6:  # "２" is a digit too
        return []
    out = []
    for i in range(min(int(count), MAX_PUSH_OPTIONS + 1)):
        value = environ.get(f"GIT_PUSH_OPTION_{i}")
        if value is not None:
            out.append(value[: MAX_PUSH_OPTION_LEN + 1].replace("\n", " "))
    return out


def options_for(rc: Rc, tid: str, repo: str) -> list[str]:
    """The push options recorded for (tid, repo) ([] when none)."""
    try:
        with open(_path(rc, tid, repo)[: -len(".updates")] + ".options", encoding="utf-8") as f:
            return f.read().splitlines()[: MAX_PUSH_OPTIONS + 1]
    except (OSError, ValueError):
        return []


def updates_for(rc: Rc, tid: str, repo: str) -> list[RefUpdate]:
    """The ref updates the push of session ``tid`` made to ``repo`` ([] for a fetch or none)."""
    try:
        with open(_path(rc, tid, repo), encoding="utf-8") as f:
            return parse(f.read())
    except (OSError, ValueError):
        return []


def record(
    rc: Rc,
    tid: str,
    repo: str,
    updates: Iterable[tuple[str, str, str]],
    options: list[str] | None = None,
) -> None:
    """Add ``updates`` to the record of (tid, repo); atomic replace, earlier updates kept.

    Not fsynced: a record is read by the same session's POST_GIT a moment later, and a
    crash loses the session anyway; an fsync would be most of the push's hook time.
    """
    from gitolite_triggers.atomicfile import AS_OPEN, write_atomic

    path = _path(rc, tid, repo)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    merged = updates_for(rc, tid, repo) + [RefUpdate(*u) for u in updates]
    text = "".join(u.line() for u in merged)
    write_atomic(path, text.encode("utf-8"), AS_OPEN, fsync=False)
    if options:
        opts = "".join(f"{o}\n" for o in options)
        write_atomic(
            path[: -len(".updates")] + ".options",
            opts.encode("utf-8", "replace"),
            AS_OPEN,
            fsync=False,
        )
    sweep(rc)


def sweep(rc: Rc, now: float | None = None, force: bool = False) -> int:
    """Remove session folders older than MAX_AGE_SECONDS; return how many were removed."""
    base = records_dir(rc)
    now = time.time() if now is None else now
    stamp = os.path.join(base, ".swept")
    try:
        if not force and now - os.stat(stamp).st_mtime < SWEEP_EVERY_SECONDS:
            return 0
    except OSError:
        pass
    try:
        with open(stamp, "a"):
            pass
        os.utime(stamp, (now, now))
        entries = list(os.scandir(base))
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime > MAX_AGE_SECONDS:
                import shutil

                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed
