"""How the rc cache and the last good rc stand, for ``doctor`` and ``rc check``.

Read-only: the hot path's ``load_rc`` decides what to serve; this module only looks at
the same files and says what ``load_rc`` would find (docs/reliability.md).
"""

from __future__ import annotations

import marshal
import time

from gitolite_triggers import paths
from gitolite_triggers.rc import (
    CACHE_VERSION,
    _cache_magic,
    _read_private,
    _stamps,
    _well_formed,
    read_last_good,
)

CURRENT, MISSING, STALE, DAMAGED, FALLBACK = "current", "missing", "stale", "damaged", "fallback"


def cache_state() -> str:
    """``current`` (what the next session serves as is), ``missing``, ``stale`` (rebuilt by
    the next session), ``damaged`` (rebuilt too: truncated, not ours, not a plain file) or
    ``fallback`` (the sources are invalid and the last good rc is served)."""
    import os

    path = paths.rc_cache_file()
    data = _read_private(path)
    if data is None:
        return DAMAGED if os.path.lexists(path) else MISSING
    magic = _cache_magic()
    if not data.startswith(magic):
        # another version's or interpreter's cache is stale; anything else is damaged
        first, newline, _ = data.partition(b"\n")
        ours = first.startswith(b"gitolite-triggers rc cache ") and newline
        return STALE if ours else DAMAGED
    try:
        doc = marshal.loads(data[len(magic) :])
    except (ValueError, EOFError, TypeError):
        return DAMAGED
    if not _well_formed(doc):
        return DAMAGED
    if doc.get("version") != CACHE_VERSION or doc.get("sources") != _stamps():
        return STALE
    return FALLBACK if doc.get("fallback") is not None else CURRENT


def last_good_note() -> str:
    """What a failed ``rc check`` adds: what the server serves meanwhile."""
    doc, why = read_last_good()
    if doc is None:
        return f"while the rc is invalid every command, fetch and push is refused: {why}"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(doc["fallback"]["validated"]))
    return f"until it is valid the server runs on the last good rc, validated {when}"
