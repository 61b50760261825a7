"""Read a file that a push to gitolite-admin put on disk, without leaving its folder.

Why: conf/ and keydir/ in $GL_ADMIN_BASE are checked out from the admin repo. A symlink
there (``conf/leak.conf -> ~/.buildkite-token``) would make the compiler read any file the
account can read, and echo its lines back in an error message. Pushes with a symlink in
conf/ or keydir/ are refused (adminpush.py); every read also goes through here, as a
second guard that holds whatever is on disk: each path component is opened relative to
its parent with ``O_NOFOLLOW`` (no symlink is followed, not even in a parent folder), and
only a regular file is read (a fifo would block, a device would be read from).

Messages name the file and why; they never hold anything read.
"""

from __future__ import annotations

import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafeFile(Exception):
    """Not a plain file inside the folder; ``str()`` says why (never the content)."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a fifo"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def _why(name: str, dir_fd: int, err: OSError) -> UnsafeFile | OSError:
    """Turn O_NOFOLLOW's ELOOP (and O_DIRECTORY's ENOTDIR) into a named refusal."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except OSError:
        return err
    if stat.S_ISLNK(st.st_mode):
        return UnsafeFile(f"'{name}' is a symlink (only plain files and folders are read)")
    return err


def read_inside(base: str, rel: str, limit: int | None = None) -> tuple[bytes, os.stat_result]:
    """Read ``base/rel`` (at most ``limit + 1`` bytes) and its stat; refuse anything but a file inside.

    ``rel`` is a relative path; ``..`` and absolute paths are refused. Raises UnsafeFile
    for a symlink (anywhere below ``base``, or ``base`` itself), a fifo, socket, device or
    folder; OSError (FileNotFoundError, ...) for the rest.
    """
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if os.path.isabs(rel) or not parts:
        raise UnsafeFile(f"'{rel}' is not a path inside the folder")
    if ".." in parts:
        raise UnsafeFile(f"'{rel}' leaves the folder ('..')")
    try:
        fd = os.open(base, _DIR_FLAGS)
    except OSError as e:
        if os.path.islink(base):
            raise UnsafeFile(f"'{os.path.basename(base)}' is a symlink") from None
        raise e from None
    try:
        for name in parts[:-1]:
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                raise _why(name, fd, e) from None
            os.close(fd)
            fd = sub
        try:
            ffd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
        except OSError as e:
            raise _why(parts[-1], fd, e) from None
    finally:
        os.close(fd)
    try:
        st = os.fstat(ffd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"it is {_kind(st.st_mode)}, not a plain file")
        chunks: list[bytes] = []
        want = None if limit is None else limit + 1
        got = 0
        while want is None or got < want:
            chunk = os.read(ffd, 65536 if want is None else min(65536, want - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks), st
    finally:
        os.close(ffd)
