"""The durable spool: one JSON file per build to create, moved between folders by state.

Layout under ``$GL_ADMIN_BASE/buildkite/`` (or the rc's ``spool_dir``)::

    tmp/       files being written (never read)
    prepared/  builds the update hook spooled before git moved the ref (the deliverer
               never reads them): post-receive promotes them to pending/ (a link, no
               new data, so it works on a full disk), or drops them (ci.skip); what a
               killed push leaves here is settled by a later push (trigger.settle)
    pending/   builds still to create (the deliverer's work)
    done/      created (or deliberately skipped) builds, kept keep_done_days
    dead/      refused by Buildkite (400/401/403/404/422) or given up; ``retry`` revives
    lock       flock'ed by the one deliverer at a time

A record's file name is its delivery id: a hash of (repo, ref, new object name), so
every registration that fires for one push names the same file, and creating it is an
atomic ``link()`` that fails if it exists. Every write is temp file, fsync, rename (and
the folder is fsynced), so ``kill -9`` or a power cut leaves either the old or the new
record, never half of one. Standard library only: this runs on the push path.

The spool is trusted input to the deliverer (which holds the Buildkite token), so a spool
another account could write to is refused (SpoolError: not owned by us, or group- or
world-writable, or a sub-folder that is a symlink), and every file in it (lock, records,
temp files) is opened with O_NOFOLLOW: a planted symlink is never followed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitolite_triggers.atomicfile import write_temp

STATES = ("pending", "done", "dead")
PREPARED = "prepared"  # not a STATE: never delivered, listed or retried as one
Record = dict[str, Any]
NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


class SpoolError(OSError):
    """The spool folder is not safe to use (owner or mode); the message says what to fix."""


def check_folder(path: Path, follow: bool) -> None:
    """Refuse a folder not owned by this account, group/world-writable, or not a folder."""
    import stat

    st = os.stat(path) if follow else os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise SpoolError(f"buildkite spool: {path} is not a folder (a symlink?); refusing it")
    if st.st_uid != os.geteuid():
        raise SpoolError(
            f"buildkite spool: {path} is owned by uid {st.st_uid}, not by this account "
            f"(uid {os.geteuid()}); refusing it"
        )
    if st.st_mode & 0o022:
        raise SpoolError(
            f"buildkite spool: {path} is group- or world-writable "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); refusing it: chmod go-w it"
        )


def delivery_id(repo: str, ref: str, new: str, pipeline: str = "") -> str:
    """Stable id of the build for (repo, ref, new commit[, ORG/PIPELINE]); also sent as
    build meta-data. The trigger always names the pipeline (fan-out: one build per
    pipeline); without one the id is the one used before fan-out existed."""
    key = f"{repo}\0{ref}\0{new}" + (f"\0{pipeline}" if pipeline else "")
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def rebuild_id(repo: str, ref: str, new: str) -> str:
    """A fresh id for a deliberate second build of a commit (``build`` over ssh,
    ``buildkite redeliver``): unlike ``delivery_id`` it differs every time, so it passes
    the one-build-per-commit rule on purpose."""
    salt = f"{time.time_ns()}\0{os.getpid()}\0{os.urandom(8).hex()}"
    return hashlib.sha256(f"{repo}\0{ref}\0{new}\0{salt}".encode()).hexdigest()[:32]


class IdError(LookupError):
    """An id (or id prefix) names no record, or more than one; the message says which."""


RESTART_FLAG = "restart"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def dir(self, state: str) -> Path:
        return self.root / state

    def ensure(self) -> None:
        """Create the folders (0700) and check them; raise SpoolError for an unsafe spool."""
        for sub in ("tmp", *STATES, PREPARED):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        check_folder(self.root, follow=True)
        for sub in ("tmp", *STATES, PREPARED):
            check_folder(self.root / sub, follow=False)

    def path(self, state: str, rid: str) -> Path:
        return self.root / state / f"{rid}.json"

    def _write_tmp(self, rec: Record) -> Path:
        # In tmp/, not beside the target: the deliverer never sees a half-written record.
        name = f"{rec['id']}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        data = json.dumps(rec, indent=1, sort_keys=True).encode()
        return Path(write_temp(str(self.root / "tmp"), name, data, 0o600))

    def add(self, rec: Record, sync_dir: bool = True) -> bool:
        """Create ``pending/<id>`` unless this build is already pending, done or dead.

        With ``sync_dir=False`` the caller fsyncs the folder once after many adds
        (``sync_pending``)."""
        self.ensure()
        rid = rec["id"]
        if any(self.path(s, rid).exists() for s in ("done", "dead")):
            return False
        tmp = self._write_tmp(rec)
        try:
            os.link(tmp, self.path("pending", rid))
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        # The deliverer may have finished an earlier copy between our check and link.
        if any(self.path(s, rid).exists() for s in ("done", "dead")):
            with contextlib.suppress(FileNotFoundError):
                self.path("pending", rid).unlink()
            return False
        if sync_dir:
            _fsync_dir(self.dir("pending"))
        return True

    def sync_pending(self) -> None:
        _fsync_dir(self.dir("pending"))

    def prepare(self, rec: Record) -> None:
        """Write ``prepared/<id>`` (fsynced; the caller fsyncs the folder: ``sync_prepared``).

        Raises OSError (ENOSPC on a full disk) or SpoolError: the update hook then
        refuses the ref, so no accepted push is without its build."""
        self.ensure()
        tmp = self._write_tmp(rec)
        os.replace(tmp, self.path(PREPARED, rec["id"]))

    def sync_prepared(self) -> None:
        _fsync_dir(self.dir(PREPARED))

    def promote(self, rid: str) -> bool:
        """``prepared/<id>`` into ``pending/`` (a link: no new data); False when it is not
        there, or the build is already pending, done or dead (then it is just dropped)."""
        src = self.path(PREPARED, rid)
        try:
            if not any(self.path(s, rid).exists() for s in ("done", "dead")):
                os.link(src, self.path("pending", rid))
                made = True
            else:
                made = False
        except FileNotFoundError:
            return False
        except FileExistsError:
            made = False
        with contextlib.suppress(FileNotFoundError):
            src.unlink()
        return made

    def drop_prepared(self, rid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(PREPARED, rid).unlink()

    def save(self, state: str, rec: Record) -> None:
        """Atomically write ``rec`` into ``state`` (replacing any earlier version there)."""
        self.ensure()
        tmp = self._write_tmp(rec)
        os.replace(tmp, self.path(state, rec["id"]))
        _fsync_dir(self.dir(state))

    def move(self, rec: Record, src: str, dst: str) -> None:
        """Write ``rec`` into ``dst`` first, then drop it from ``src``: a crash in between
        leaves both, and ``pending`` entries whose id is done/dead are dropped on sight."""
        self.save(dst, rec)
        with contextlib.suppress(FileNotFoundError):
            self.path(src, rec["id"]).unlink()
        _fsync_dir(self.dir(src))

    def load(self, state: str, rid: str) -> Record | None:
        try:
            fd = os.open(self.path(state, rid), os.O_RDONLY | NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:
                return None  # a symlink planted in the spool: never followed
            raise
        with open(fd, encoding="utf-8") as f:
            rec: Record = json.load(f)  # save() wrote it from a Record
        return rec

    def ids(self, state: str) -> list[str]:
        try:
            names = os.listdir(self.dir(state))
        except FileNotFoundError:
            return []
        return sorted(n[:-5] for n in names if n.endswith(".json"))

    def records(self, state: str) -> Iterator[Record]:
        for rid in self.ids(state):
            try:
                rec = self.load(state, rid)
            except ValueError:
                continue  # cannot happen with rename-into-place; never crash on it
            if rec is not None:
                yield rec

    def resolve(self, prefix: str, states: tuple[str, ...] = STATES) -> tuple[str, str]:
        """(state, full id) of the one record whose id starts with ``prefix``, as git takes
        a unique abbreviation of an object name; IdError when none or several match."""
        wanted = prefix.strip().lower()
        if not wanted or any(c not in "0123456789abcdef" for c in wanted):
            raise IdError(f"{prefix!r} is not a delivery id (hex digits, as `status` lists them)")
        found = [(st, rid) for st in states for rid in self.ids(st) if rid.startswith(wanted)]
        if not found:
            raise IdError(f"no delivery {prefix} (in {', '.join(states)})")
        if len({rid for _, rid in found}) > 1:
            names = ", ".join(f"{rid[:12]} ({st})" for st, rid in found[:5])
            raise IdError(f"delivery id {prefix} is ambiguous: {names}; give more digits")
        # A crash between writing done/ and unlinking pending/ leaves both: done wins.
        for st in ("done", "dead", "pending"):
            if (st, found[0][1]) in found:
                return st, found[0][1]
        return found[0]

    def request_restart(self) -> None:
        """Ask a running deliverer to let go of the lock and exit (it checks the flag's
        stamp between records and at least once per ``poll_interval``)."""
        self.ensure()
        self.save_flag(RESTART_FLAG, f"{time.time_ns()} {os.getpid()}\n".encode())

    def save_flag(self, name: str, data: bytes) -> None:
        tmp = Path(write_temp(str(self.root / "tmp"), f"{name}.{os.getpid()}.tmp", data, 0o600))
        os.replace(tmp, self.root / name)

    def restart_stamp(self) -> int:
        """The restart flag's mtime (ns), 0 when there is none: a deliverer notes it at
        start and stops when it changes."""
        try:
            st = os.lstat(self.root / RESTART_FLAG)
        except FileNotFoundError:
            return 0
        return st.st_ino << 64 | st.st_mtime_ns  # a new file (os.replace) is a new inode

    def has_pending(self) -> bool:
        try:
            return any(n.endswith(".json") for n in os.listdir(self.dir("pending")))
        except FileNotFoundError:
            return False

    def sweep(self, keep_days: float) -> int:
        """Forget done records older than ``keep_days`` and stale temp files."""
        now = time.time()
        removed = 0
        for state, age in (("done", keep_days * 86400), ("tmp", 3600.0)):
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(self.dir(state)):
                    with contextlib.suppress(OSError):
                        if now - entry.stat().st_mtime > age:
                            os.unlink(entry.path)
                            removed += 1
        return removed

    @contextlib.contextmanager
    def locked(self, wait: bool = False) -> Iterator[bool]:
        """Hold the deliverer lock; yields False (without waiting) if another process has it."""
        self.ensure()
        try:
            fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o600)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise SpoolError(
                    f"buildkite spool: {self.root / 'lock'} is a symlink; refusing it"
                ) from None
            raise
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except OSError as e:
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    yield False
                    return
                raise
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield True
        finally:
            os.close(fd)

    def holder(self) -> str | None:
        """The pid of the process holding the deliverer lock, or None.

        Read from /proc/locks, never by trying the lock: a probe that took the lock even
        for a moment could make a starting deliverer think another one is at work.
        """
        try:
            st = os.stat(self.root / "lock")
        except FileNotFoundError:
            return None
        ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        try:
            with open("/proc/locks", encoding="ascii") as f:
                for line in f:
                    parts = line.split()
                    if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
                        continue
                    if parts[5] == ident:
                        return parts[4]
        except OSError:
            return None
        return None
