"""Staged writes: build every new file beside the one it replaces, make them live later by renames.

Why: an admin push must either change nothing or put everything in force (docs/reliability.md).
Every byte the push writes is therefore written BEFORE the ref moves (in the admin repo's
pre-receive), each to a temp file in the folder of the file it replaces (same filesystem, so
the switch is one ``rename``, which needs no free space and cannot be half done); what is
left after the ref moved are renames, unlinks and empty-file creations. A full disk or a
kill while staging leaves only temp files (removed by the next stage) and the live state
untouched.

A ``Plan`` is plain data (a list of ops) so the process that stages (pre-receive) and the
one that commits (post-update) can be different: ``ops`` goes into the stage's manifest.
Ops::

    {"op": "rename", "src": TEMP, "dst": LIVE, "ident": [ino, mtime_ns, size] | None}
    {"op": "touch", "path": P}       {"op": "unlink", "path": P}
    {"op": "prune_keys", "folder": F, "keep": [TOKEN, ...]}

``ident`` is the live file as the stage saw it: if another writer changed it meanwhile,
``commit`` refuses (``Stale``) rather than lose that change, and the caller stages again.
The updaters run by hand (or by setup) use the same code and commit at once.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STAGE_MARK = ".gl-stage."


class Stale(Exception):
    """A live file changed between staging and commit: stage again."""


def ident(path: str) -> list[int] | None:
    """What identifies one version of a file (None: no file)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def new_stage_id() -> str:
    return f"{os.getpid()}-{time.time_ns()}"


class Plan:
    """The ops of one stage; ``put`` writes the temp files as it goes."""

    def __init__(self, stage_id: str | None = None) -> None:
        self.stage_id = stage_id or new_stage_id()
        self.ops: list[dict[str, Any]] = []

    def temp_for(self, dst: str) -> str:
        folder, name = os.path.split(dst)
        return os.path.join(folder, f".{name}{STAGE_MARK}{self.stage_id}")

    def put(self, dst: str | os.PathLike[str], data: bytes, mode: int | None = None) -> None:
        """Stage ``data`` to replace ``dst`` (mode None: the live file's, or 0644 less umask)."""
        from gitolite_triggers.atomicfile import write_temp

        dst = os.fspath(dst)
        if mode is None:
            try:
                mode = os.stat(dst).st_mode & 0o7777
            except FileNotFoundError:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o644 & ~umask
        seen = ident(dst)
        folder, _ = os.path.split(self.temp_for(dst))
        tmp = write_temp(folder, os.path.basename(self.temp_for(dst)), data, mode)
        self.ops.append({"op": "rename", "src": tmp, "dst": dst, "ident": seen})

    def put_temp(self, tmp: str, dst: str, seen: list[int] | None) -> None:
        """A temp file made by someone else (git config --file) that replaces ``dst``."""
        self.ops.append({"op": "rename", "src": tmp, "dst": dst, "ident": seen})

    def touch(self, path: str) -> None:
        self.ops.append({"op": "touch", "path": path})

    def unlink(self, path: str) -> None:
        self.ops.append({"op": "unlink", "path": path})

    def prune_keys(self, folder: str, keep: list[str]) -> None:
        self.ops.append({"op": "prune_keys", "folder": folder, "keep": keep})

    def commit(self) -> None:
        """Make the plan live now (the updaters run by hand, setup)."""
        commit(self.ops)


def check(ops: list[dict[str, Any]]) -> None:
    """Raise Stale if a live file changed since it was staged, or a temp file is gone."""
    for op in ops:
        if op["op"] == "rename":
            if not os.path.lexists(op["src"]):
                raise Stale(f"{op['src']} is gone")
            if op.get("force"):
                continue
            if op["ident"] is None:
                if os.path.lexists(op["dst"]):
                    raise Stale(f"{op['dst']} appeared since it was staged")
            elif ident(op["dst"]) != op["ident"]:
                raise Stale(f"{op['dst']} changed since it was staged")


def commit(ops: list[dict[str, Any]], checked: bool = False) -> None:
    """Apply ops in order: renames, empty-file creations, unlinks (no data written)."""
    if not checked:
        check(ops)
    for op in ops:
        kind = op["op"]
        if kind == "rename":
            os.replace(op["src"], op["dst"])
        elif kind == "touch":
            if not os.path.exists(op["path"]):
                os.close(os.open(op["path"], os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        elif kind == "unlink":
            try:
                os.unlink(op["path"])
            except FileNotFoundError:
                pass
        elif kind == "prune_keys":
            from gitolite_triggers.keyindex import prune

            try:
                prune(op["folder"], set(op["keep"]))
            except OSError:
                pass  # old indexes are unreachable; doctor names them


def discard(ops: list[dict[str, Any]]) -> None:
    """Remove a stage's temp files (a refused push, a stale or abandoned stage)."""
    for op in ops:
        if op["op"] == "rename":
            try:
                os.unlink(op["src"])
            except OSError:
                pass
