"""Replace a file so that readers see the old or the new one, never half of either.

One implementation for the files the server rewrites in place (authorized_keys, the
gitweb list, the launchers, setup's manifest, the compiled rules): temp file beside the target, fsync,
chmod, rename, and no temp file left behind on failure. ``os`` only, so it costs nothing
to import.
"""

from __future__ import annotations

import os


def write_atomic(
    path: str | os.PathLike[str], data: bytes | list[bytes], mode: int | None = None
) -> None:
    """Replace ``path`` with ``data`` (bytes, or parts written in order) via temp file +
    fsync + rename.

    ``mode`` None keeps the existing file's mode (0644 for a new file, subject to the umask).
    """
    path = os.fspath(path)
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644 & ~_umask()
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            for part in [data] if isinstance(data, bytes) else data:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old
