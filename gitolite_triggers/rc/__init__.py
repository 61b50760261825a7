"""The effective rc, loaded fast.

Every fetch and push loads the rc, so the validated, merged rc is cached beside the main
rc file, together with the mtime and size of each source (the main rc, the rc.d folder
itself, each fragment). The cache is ``marshal`` data: no parser to import and
microseconds to load. A stale or missing one is rebuilt, which is the only time PyYAML
and jsonschema are imported. An invalid rc raises RcError every time (nothing stale is trusted).
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from gitolite_triggers import paths
from gitolite_triggers.errors import RcError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


# 5: the schema refuses a UMASK with owner bits; 6: COMMANDS (an older cache lacks it)
CACHE_VERSION = 6
SAFE_UMASK = 0o077  # every entry point's first act, before anything can be written
ALWAYS_FIREABLE = ("POST_COMPILE", "POST_CREATE")

__all__ = ["Rc", "RcError", "load_rc", "source_files", "build"]


def _source_names() -> list[str]:
    """The rc files in merge order: the main rc (if present), then rc.d/*.yaml sorted."""
    files = []
    main = paths.rc_file()
    if os.path.isfile(main):
        files.append(main)
    rc_d = paths.rc_d_dir()
    try:
        names = sorted(os.listdir(rc_d))
    except OSError:
        names = []
    for name in names:
        full = os.path.join(rc_d, name)
        if name.endswith(".yaml") and os.path.isfile(full):
            files.append(full)
    return files


def source_files() -> list[Path]:
    """``_source_names`` as Paths (for ``rc check`` and the cache rebuild)."""
    from pathlib import Path

    return [Path(p) for p in _source_names()]


def _stamp(path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, st.st_mtime_ns, st.st_size]


def _stamps() -> list[list[Any]]:
    main = paths.rc_file()
    stamps = [_stamp(main), _stamp(paths.rc_d_dir())]
    stamps.extend(_stamp(p) for p in _source_names() if p != main)
    return stamps


def build(files: list[Path] | None = None) -> tuple[dict[str, Any], list[str], list[str]]:
    """Parse, validate and merge; return (effective, errors, warnings). Imports YAML.

    Every file is parsed and checked whatever the others hold, and what is valid (every
    file, less the top-level keys that hold an error) is merged even when some is not, so
    ``rc check`` resolves programs and reports every problem in one run (load_rc refuses
    an rc with any error, whatever the merge gave).
    """
    from gitolite_triggers.rc.merge import merge
    from gitolite_triggers.rc.validate import check_keys, valid_part
    from gitolite_triggers.rc.yamlpos import load_file

    errors: list[str] = []
    warnings: list[str] = []
    loaded = []
    for path in source_files() if files is None else files:
        try:
            one = load_file(path)
        except RcError as e:
            errors.append(str(e))
            continue
        errs, warns, bad = check_keys(one)
        errors.extend(errs)
        warnings.extend(warns)
        loaded.append(valid_part(one, bad) if bad else one)
    effective = merge(loaded)
    warnings.extend(effective.pop("warnings"))
    effective["warnings"] = warnings
    return effective, errors, warnings


def _cache_magic() -> bytes:
    """marshal's format belongs to the interpreter: a cache from another one is rebuilt."""
    return f"gitolite-triggers rc cache {CACHE_VERSION} {sys.implementation.cache_tag}\n".encode()


def _write_cache(effective: dict[str, Any], stamps: list[list[Any]]) -> None:
    """Write the cache 0600 whatever the umask: it holds every rc value, including those
    from 0600 fragments (pipeline env, tokens). Temp file, then rename over the old one."""
    from gitolite_triggers.atomicfile import write_atomic

    doc = {"version": CACHE_VERSION, "sources": stamps, **effective}
    try:
        # No fsync: a cache lost in a crash is rebuilt from the YAML.
        write_atomic(paths.rc_cache_file(), _cache_magic() + marshal.dumps(doc), 0o600, fsync=False)
    except OSError:
        pass  # a read-only home still works, just without the cache


def _read_cache(stamps: list[list[Any]]) -> dict[str, Any] | None:
    try:
        with open(paths.rc_cache_file(), "rb") as f:
            if os.fstat(f.fileno()).st_mode & 0o077:
                os.fchmod(f.fileno(), 0o600)  # one written before caches were kept private
            data = f.read()
    except OSError:
        return None
    magic = _cache_magic()
    if not data.startswith(magic):
        return None
    try:
        doc = marshal.loads(data[len(magic) :])
    except (ValueError, EOFError, TypeError):
        return None
    if (
        not isinstance(doc, dict)
        or doc.get("version") != CACHE_VERSION
        or doc.get("sources") != stamps
    ):
        return None
    return doc


def load_rc(use_cache: bool = True) -> Rc:
    """The effective rc; raises RcError (with every file:line message) if it is invalid."""
    stamps = _stamps()
    doc = _read_cache(stamps) if use_cache else None
    if doc is None:
        effective, errors, _ = build()
        if errors:
            raise RcError("invalid rc, refusing to run:\n" + "\n".join(errors))
        # Re-stamp after reading: an edit during the build must not be cached as current.
        if _stamps() == stamps:
            _write_cache(effective, stamps)
        doc = effective
    return Rc(doc)


class Rc:
    """Read-only view of the effective rc with the accessors the rest of the code needs."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.settings: dict[str, Any] = doc["settings"]
        self.triggers: dict[str, list[dict[str, Any]]] = doc["triggers"]
        self.hooks: dict[str, list[dict[str, Any]]] = doc["hooks"]
        self.warnings: list[str] = doc.get("warnings", [])

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    @property
    def repo_base(self) -> str:
        base: str = self.settings["GL_REPO_BASE"]  # the schema's type
        return base

    @property
    def admin_base(self) -> str:
        base: str = self.settings["GL_ADMIN_BASE"]  # the schema's type
        return base

    @property
    def local_code(self) -> str | None:
        return self.settings.get("LOCAL_CODE")

    @property
    def umask(self) -> int:
        umask: int = self.settings["UMASK"]  # the schema's type
        return umask

    @property
    def buildkite(self) -> dict[str, Any]:
        return self.settings.get("buildkite") or {}

    def trigger_list(self, name: str) -> list[dict[str, Any]]:
        return self.triggers.get(name, [])

    def hook_list(self, hook: str) -> list[dict[str, Any]]:
        return self.hooks.get(hook, [])

    def fireable(self) -> list[str]:
        """Trigger names ``trigger NAME`` accepts: those in the rc, plus POST_COMPILE/POST_CREATE."""
        return sorted(set(self.triggers) | set(ALWAYS_FIREABLE))

    def logfile(self) -> str:
        """LOG_TEMPLATE with %y %m %d filled in (local time).

        An inherited ``GL_LOGFILE`` is never read: it is only exported for trigger programs.
        """
        now = time.localtime()
        template: str = self.settings["LOG_TEMPLATE"]  # the schema's type
        return (
            template.replace("%y", f"{now.tm_year:04d}")
            .replace("%m", f"{now.tm_mon:02d}")
            .replace("%d", f"{now.tm_mday:02d}")
        )

    def apply_process_settings(self) -> None:
        """What gitolite does at start-up for every process: umask, GL_TID, GL_LOGFILE, base dirs.

        Entry points set a safe ``SAFE_UMASK`` before loading the rc (the cache may be
        rebuilt then); the rc's own UMASK only applies from here on.
        """
        os.umask(self.umask)
        os.environ.setdefault("GL_TID", str(os.getpid()))
        os.environ["GL_LOGFILE"] = self.logfile()
        os.environ["GL_REPO_BASE"] = self.repo_base
        os.environ["GL_ADMIN_BASE"] = self.admin_base
        bindir = bin_dir()
        os.environ["GL_BINDIR"] = bindir
        path = os.environ.get("PATH", "")
        if not path.startswith(bindir + os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + path if path else bindir


def bin_dir() -> str:
    """Where the ``gitolite-triggers`` script lives (the venv's bin), exported as GL_BINDIR."""
    return os.path.dirname(os.path.abspath(sys.executable))
