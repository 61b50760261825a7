"""The compiled rules on disk: one file, replaced atomically, read a few buckets at a time.

Why one file with an index rather than one big pickle or per-repo shards: a check must
see either the old or the new compiled state, never a mix, and must not pay for 10,000
repos it does not ask about. A single file written to a temp name and ``os.replace``d
gives the atomic switch; a reader opens it once per query (or re-uses its open fd while
the path still names the same inode), so every read of that query comes from one
version even if a compile replaces the file meanwhile. Inside, entries are spread over
hash buckets (``zlib.crc32`` of the key, stable across processes); a lookup reads 16
bytes of the bucket table and one small ``marshal`` blob.

Layout (little endian)::

    0   8s  magic b"GLTRULES"
    8   I   format version
    12  I   number of buckets N
    16  Q   header offset      24 Q header length     32 Q table offset
    40      header: marshal of a dict (small: patterns, version, counts)
    ...     table: N+1 u64 offsets of the bucket blobs (blob i = [off[i], off[i+1]))
    ...     blobs: marshal of {key: value} for the keys hashing to that bucket

Keys: ``R<repo key>`` -> (rules by user, configs) for each repo key of the conf
(names, patterns, @groups, @all); ``G<member>`` -> groups containing it; ``L<name>`` ->
bulk lists (conf repos, wild patterns, rule info) that only bulk callers read.
"""

from __future__ import annotations

import marshal
import os
import struct
import zlib

from gitolite_triggers.conf.errors import StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STORE_NAME = "compiled.rules"
MAGIC = b"GLTRULES"
FORMAT = 1
_HEAD = struct.Struct("<8sIIQQQ")
_OFFS = struct.Struct("<QQ")


def live_store_path(rc: Any) -> str:
    """Where the compiled rules in force live: ``$GL_ADMIN_BASE/conf/compiled.rules``."""
    return os.path.join(rc.admin_base, "conf", STORE_NAME)


# live path -> staged path: while an admin push builds its new state (adminstage.py), the
# built-in POST_COMPILE programs it stages ask the rules it is about to put in force.
_reading: dict[str, str] = {}


def store_path(rc: Any) -> str:
    """The store queries read: the live one, or a staged one while a push stages its state."""
    live = live_store_path(rc)
    return _reading.get(live, live)


def read_staged(rc: Any, staged: str | None) -> None:
    """Make this process's queries read ``staged`` (None: the live store again)."""
    live = live_store_path(rc)
    if staged is None:
        _reading.pop(live, None)
    else:
        _reading[live] = staged


def _bucket(key: str, n: int) -> int:
    return zlib.crc32(key.encode("utf-8", "surrogateescape")) % n


def write_store(path: str, header: dict[str, Any], entries: dict[str, Any]) -> int:
    """Write the store to ``path`` atomically (temp file in the same folder, fsync, rename).

    Returns the size in bytes.
    """
    n = max(1, len(entries) // 4)
    buckets: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, value in entries.items():
        buckets[_bucket(key, n)][key] = value
    blobs = [marshal.dumps(b, 4) for b in buckets]
    head = marshal.dumps(header, 4)
    hdr_off = _HEAD.size
    table_off = hdr_off + len(head)
    pos = table_off + 8 * (n + 1)
    offsets = []
    for blob in blobs:
        offsets.append(pos)
        pos += len(blob)
    offsets.append(pos)
    parts = [
        _HEAD.pack(MAGIC, FORMAT, n, hdr_off, len(head), table_off),
        head,
        struct.pack(f"<{n + 1}Q", *offsets),
        *blobs,
    ]
    from gitolite_triggers import faults
    from gitolite_triggers.atomicfile import write_atomic

    faults.point("store:write")
    write_atomic(path, parts, 0o600)
    return pos


class Snapshot:
    """One version of the compiled store, read through one open fd."""

    def __init__(self, fd: int | None, ident: tuple[int, ...]) -> None:
        self.fd = fd
        self.ident = ident
        self._buckets: dict[int, dict[str, Any]] = {}
        if fd is None:  # nothing compiled yet: an empty rule set (everything is denied)
            self.nbuckets = 0
            self.header: dict[str, Any] = {"patterns": [], "group_patterns": [], "empty": True}
            return
        first = os.pread(fd, 65536, 0)
        if len(first) < _HEAD.size:
            raise StoreError("compiled rules file is truncated")
        magic, fmt, n, hdr_off, hdr_len, table_off = _HEAD.unpack_from(first)
        if magic != MAGIC or fmt != FORMAT:
            raise StoreError(
                "compiled rules file has an unknown format; run `gitolite-triggers compile`"
            )
        raw = (
            first[hdr_off : hdr_off + hdr_len]
            if hdr_off + hdr_len <= len(first)
            else os.pread(fd, hdr_len, hdr_off)
        )
        try:
            self.header = marshal.loads(raw)
        except (ValueError, EOFError, TypeError) as e:
            raise StoreError(
                f"compiled rules file is damaged ({e}); run `gitolite-triggers compile`"
            ) from None
        self.nbuckets = n
        self.table_off = table_off

    def get(self, key: str) -> Any:
        """The value stored under ``key``, or None."""
        if not self.nbuckets:
            return None
        i = _bucket(key, self.nbuckets)
        bucket = self._buckets.get(i)
        if bucket is None:
            fd = self.fd
            if fd is None:  # closed: only __del__ closes, so never in practice
                raise StoreError("compiled rules file is closed")
            try:
                start, end = _OFFS.unpack(os.pread(fd, 16, self.table_off + 8 * i))
                bucket = marshal.loads(os.pread(fd, end - start, start))
            except (ValueError, EOFError, TypeError, struct.error, OSError) as e:
                raise StoreError(
                    f"compiled rules file is damaged ({e}); run `gitolite-triggers compile`"
                ) from None
            self._buckets[i] = bucket
        return bucket.get(key)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


_cache: dict[str, Snapshot] = {}


def snapshot(path: str) -> Snapshot:
    """The current version at ``path`` (re-used while the path names the same file)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Snapshot(None, ())
    ident = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    snap = _cache.get(path)
    if snap is not None and snap.ident == ident:
        return snap
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return Snapshot(None, ())
    try:
        fst = os.fstat(fd)
        snap = Snapshot(fd, (fst.st_dev, fst.st_ino, fst.st_mtime_ns, fst.st_size))
    except BaseException:
        os.close(fd)
        raise
    _cache[path] = snap
    return snap
