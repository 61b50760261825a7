"""The key index: one file that answers "which authorized_keys line has this key?" in O(1).

Why: sshd scans ``authorized_keys`` line by line at every login, so at 100,000 keys the
scan costs more than our whole wrapper (issue 14). With ``AuthorizedKeysCommand``
(``gitolite-triggers authorized-keys``, commands/authkeys_cmd.py) sshd asks us instead,
and we answer from this index with a handful of ``pread`` calls, no scan.

Format (``~/.ssh/gitolite-triggers-keys/<token>.idx``, mode 0600, folder 0700), a hash
table in one file so a rebuild is one atomic rename::

    MAGIC                      30 bytes
    nbuckets, file size        8 bytes each, little-endian
    offsets[nbuckets + 1]      8 bytes each: bucket i is bytes offsets[i]..offsets[i+1]
    buckets                    records "TYPE BLOB<TAB>LINE<LF>"

A key's bucket is ``crc32(BLOB) % nbuckets`` (zlib: 0.1 ms to import; hashlib costs
milliseconds). crc32 is not a defence against crafted collisions, and needs not be: only
an admin push adds keys, and a lookup reads one bounded bucket whatever it asks.

Consistency with authorized_keys (they must never disagree, even after a crash): the
index file is named by ``token`` (a digest of its content), and authorized_keys names
the token it goes with on the line after our block's start marker. ssh-authkeys writes
the new index first, then authorized_keys (the commit point: one rename), then removes
indexes older than the previous one. A crash before the rename leaves the old pair in
force, after it the new pair; a lookup reads the token from authorized_keys, so it never
uses an index that authorized_keys does not name. This also makes an index of another
compile (a leftover, a planted file) unreachable.

The lookup is on the hot path (sshd runs it for every key a client offers): it imports
only ``os`` and ``zlib``, opens ``~/.ssh`` and the index with O_NOFOLLOW (no symlink
below HOME is followed; authorized_keys is read as sshd reads it) and raises
``IndexBroken`` for anything malformed, which the command logs and answers with nothing.
"""

from __future__ import annotations

import os

MAGIC = b"gitolite-triggers key index 1\n"
HEADER = len(MAGIC) + 16
INDEX_DIR = "gitolite-triggers-keys"
START_LINE = "# gitolite-triggers start"  # ssh-authkeys' START: kept equal by a test
TOKEN_LINE = "# gitolite-triggers index "
_START_TOKEN = f"{START_LINE}\n{TOKEN_LINE}".encode()
TOKEN_LEN = 32
MAX_BUCKET = 4 << 20  # a bucket holds a few lines; megabytes of them is a broken file
MAX_KEY = 64 * 1024  # as ssh-authkeys' MAX_KEY_FILE: no real key blob is larger
_CHUNK = 1 << 16
_HEX = frozenset("0123456789abcdef")
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_TYPE = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789@.-")


class IndexBroken(Exception):
    """The index or the token in authorized_keys is missing or malformed: answer nothing."""


def bucket_of(blob: bytes, nbuckets: int) -> int:
    """The bucket of a key blob (the base64 text, as in authorized_keys)."""
    import zlib

    return zlib.crc32(blob) % nbuckets


def key_ok(ktype: str, blob: str) -> bool:
    """True if KEYTYPE and KEY look like sshd's %t and %k: no newline, no space, bounded."""
    t, b = ktype.encode("utf-8", "surrogateescape"), blob.encode("utf-8", "surrogateescape")
    return (
        0 < len(t) <= 64
        and 0 < len(b) <= MAX_KEY
        and all(c in _TYPE for c in t)
        and all(c in _B64 for c in b)
    )


def build(entries: list[tuple[str, str, str]]) -> bytes:
    """The index for (ktype, blob, line) entries; the first entry of a blob wins, as in sshd.

    ``line`` is the exact authorized_keys line; the caller has checked it holds no
    newline and no tab-free-breaking character (ssh-authkeys' ``_check_line_parts``).
    """
    seen: set[str] = set()
    records: list[tuple[str, str, str]] = []
    for ktype, blob, line in entries:
        if blob not in seen:
            seen.add(blob)
            records.append((ktype, blob, line))
    # About four records a bucket: the offset read is 16 bytes, the bucket well under 4 KB.
    nbuckets = 1
    while nbuckets * 4 < len(records):
        nbuckets *= 2
    buckets: list[list[bytes]] = [[] for _ in range(nbuckets)]
    for ktype, blob, line in records:
        b = blob.encode("ascii")
        buckets[bucket_of(b, nbuckets)].append(f"{ktype} {blob}\t{line}\n".encode())
    data = [b"".join(recs) for recs in buckets]
    table = HEADER + 8 * (nbuckets + 1)
    offsets = [table]
    for chunk in data:
        offsets.append(offsets[-1] + len(chunk))
    size = offsets[-1]
    head = MAGIC + nbuckets.to_bytes(8, "little") + size.to_bytes(8, "little")
    return b"".join([head, b"".join(o.to_bytes(8, "little") for o in offsets), *data])


def token_of(index: bytes) -> str:
    """The index's name: a digest of its content (the same keys give the same token)."""
    import hashlib

    return hashlib.sha256(index).hexdigest()[:TOKEN_LEN]


def token_ok(token: str) -> bool:
    return len(token) == TOKEN_LEN and all(c in _HEX for c in token)


def read_token(ssh_fd: int) -> str:
    """The token authorized_keys names: the line after our block's start marker.

    Read in chunks only up to that line (our block follows the admin's own lines, so at
    a site using the index this is the whole, short, file).
    """
    try:
        fd = os.open("authorized_keys", os.O_RDONLY | os.O_CLOEXEC, dir_fd=ssh_fd)
    except OSError as e:
        raise IndexBroken(f"~/.ssh/authorized_keys: {e.strerror}") from None
    needle = b"\n" + _START_TOKEN  # the marker at the start of a line
    try:
        data = b"\n"  # so a marker on the file's first line is found too
        while True:
            chunk = os.read(fd, _CHUNK)
            data += chunk
            at = data.find(needle)
            if at >= 0:
                end = data.find(b"\n", at + len(needle))
                if end >= 0 or not chunk:
                    token = data[at + len(needle) : end if end >= 0 else None]
                    text = token.decode("ascii", "replace")
                    if not token_ok(text):
                        raise IndexBroken("~/.ssh/authorized_keys: a malformed index token")
                    return text
            elif not chunk:
                raise IndexBroken(
                    "~/.ssh/authorized_keys names no key index"
                    " (run POST_COMPILE: gitolite-triggers trigger POST_COMPILE)"
                )
            else:
                data = data[-(len(needle) - 1) :]  # a marker cut by the chunk's end
            if len(data) > MAX_BUCKET:
                raise IndexBroken("~/.ssh/authorized_keys: an overlong index token line")
    finally:
        os.close(fd)


def _u64(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 8], "little")


def lookup_fd(fd: int, ktype: str, blob: str) -> str | None:
    """The line for (ktype, blob) in the open index ``fd``, or None; IndexBroken if malformed."""
    size = os.fstat(fd).st_size
    head = os.pread(fd, HEADER, 0)
    if len(head) != HEADER or not head.startswith(MAGIC):
        raise IndexBroken("not a key index (bad magic)")
    nbuckets, recorded = _u64(head, len(MAGIC)), _u64(head, len(MAGIC) + 8)
    table = HEADER + 8 * (nbuckets + 1)
    if recorded != size or nbuckets < 1 or table > size:
        raise IndexBroken(f"truncated or corrupt (size {size}, header says {recorded})")
    raw = blob.encode("ascii")
    b = bucket_of(raw, nbuckets)
    pair = os.pread(fd, 16, HEADER + 8 * b)
    start, end = _u64(pair, 0), _u64(pair, 8)
    if len(pair) != 16 or not table <= start <= end <= size or end - start > MAX_BUCKET:
        raise IndexBroken(f"corrupt bucket offsets ({start}..{end})")
    bucket = os.pread(fd, end - start, start) if end > start else b""
    if len(bucket) != end - start or (bucket and not bucket.endswith(b"\n")):
        raise IndexBroken("corrupt bucket")
    needle = f"{ktype} {blob}\t".encode("ascii")
    for record in bucket.split(b"\n"):
        if record.startswith(needle):
            return _checked_line(record[len(needle) :], ktype, blob)
    return None


def _checked_line(raw: bytes, ktype: str, blob: str) -> str:
    """Defence in depth: print only one authorized_keys line of ours for exactly this key."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IndexBroken("a line that is not UTF-8") from None
    key = f" {ktype} {blob}"
    at = line.find(key)
    if (
        not line.startswith('command="')
        or not line.isprintable()
        or at < 0
        or line[at + len(key) : at + len(key) + 1] not in ("", " ")
    ):
        raise IndexBroken("a record that is not one of our authorized_keys lines")
    return line


def lookup(home: str, ktype: str, blob: str) -> str | None:
    """The authorized_keys line ssh-authkeys wrote for this key, or None if it has none.

    Raises IndexBroken (an unreadable or malformed index, a missing token, a symlink
    where a folder should be); the caller answers sshd with nothing.
    """
    nofollow = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        ssh_fd = os.open(os.path.join(home, ".ssh"), nofollow | os.O_DIRECTORY)
    except OSError as e:
        raise IndexBroken(f"~/.ssh: {e.strerror} (a symlink is not followed)") from None
    try:
        token = read_token(ssh_fd)
        try:
            dir_fd = os.open(INDEX_DIR, nofollow | os.O_DIRECTORY, dir_fd=ssh_fd)
        except OSError as e:
            raise IndexBroken(f"~/.ssh/{INDEX_DIR}: {e.strerror}") from None
        try:
            try:
                fd = os.open(f"{token}.idx", nofollow, dir_fd=dir_fd)
            except OSError as e:
                raise IndexBroken(f"~/.ssh/{INDEX_DIR}/{token}.idx: {e.strerror}") from None
            try:
                return lookup_fd(fd, ktype, blob)
            finally:
                os.close(fd)
        finally:
            os.close(dir_fd)
    finally:
        os.close(ssh_fd)


# The writing side (ssh-authkeys, at POST_COMPILE: not the hot path).


def token_in(text: str) -> str | None:
    """The token an authorized_keys text names (as read_token finds it), or None."""
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        if line == START_LINE and lines[i + 1].startswith(TOKEN_LINE):
            token = lines[i + 1][len(TOKEN_LINE) :]
            return token if token_ok(token) else None
    return None


def index_folder(ssh_dir: str) -> str:
    """``~/.ssh/gitolite-triggers-keys``, made 0700; IndexBroken if a symlink or not a folder."""
    import stat

    if os.path.islink(ssh_dir):
        raise IndexBroken(f"{ssh_dir} is a symlink, which the lookup does not follow")
    folder = os.path.join(ssh_dir, INDEX_DIR)
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        os.mkdir(folder, 0o700)
        st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise IndexBroken(f"{folder} is not a folder (a symlink is not followed)")
    if st.st_mode & 0o7077:
        os.chmod(folder, 0o700)
    return folder


def write_index(folder: str, token: str, data: bytes) -> None:
    """Write ``<token>.idx`` (0600, atomically) unless it already holds exactly ``data``."""
    from gitolite_triggers.atomicfile import write_atomic

    path = os.path.join(folder, f"{token}.idx")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        pass
    else:
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size == len(data) and (st.st_mode & 0o7777) == 0o600 and f.read() == data:
                return
    write_atomic(path, data, 0o600)


def prune(folder: str, keep: set[str]) -> None:
    """Remove the indexes authorized_keys no longer names (keep the current and previous:
    a lookup that read the previous token a moment ago still finds its file)."""
    for name in os.listdir(folder):
        if name.endswith(".idx") and name[: -len(".idx")] not in keep:
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass
