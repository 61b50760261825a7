"""Replace a file so that readers see the old or the new one, never half of either.

The one implementation for every file the server rewrites in place (authorized_keys, the
gitweb list, the launchers, setup's manifest, the compiled rules, the rc cache, gl-perms,
gl-creator, gl-last-good, push records, the buildkite spool): a temp file created
exclusively (``O_EXCL|O_NOFOLLOW``: never a file or link planted at its name) with its final
mode, optionally fsynced, then renamed over the target; no temp file is left on failure.
"""

from __future__ import annotations

import os

# ``mode`` for a file made as ``open(path, "w")`` makes one: 0666 less the umask.
AS_OPEN = -1


def write_temp(
    folder: str, name: str, data: bytes | list[bytes], mode: int, fsync: bool = True
) -> str:
    """Write ``data`` to a new file ``folder/name`` with ``mode``; return its path.

    Created with O_EXCL|O_NOFOLLOW; a stale temp of a crashed writer with the same name is
    removed first. ``mode`` is set with fchmod, so the umask does not narrow it.
    """
    tmp = os.path.join(folder, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.fchmod(fd, mode)
            for part in [data] if isinstance(data, bytes) else data:
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | list[bytes],
    mode: int | None = None,
    fsync: bool = True,
) -> None:
    """Replace ``path`` with ``data`` (bytes, or parts written in order).

    ``mode`` None keeps the existing file's mode (0644 less the umask for a new file);
    AS_OPEN gives 0666 less the umask, as ``open(path, "w")`` would. ``fsync=False`` for
    files that are cheap to lose in a crash (a cache, a record rewritten on the next
    push) where the fsync would be the write's main cost.
    """
    path = os.fspath(path)
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644 & ~_umask()
    elif mode == AS_OPEN:
        mode = 0o666 & ~_umask()
    folder, name = os.path.split(path)
    tmp = write_temp(folder, f".{name}.{os.getpid()}.tmp", data, mode, fsync)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old
