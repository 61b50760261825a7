"""The effective rc, loaded fast.

Every fetch and push loads the rc, so the validated, merged rc is cached beside the main
rc file, together with the mtime and size of each source (the main rc, the rc.d folder
itself, each fragment). The cache is ``marshal`` data: no parser to import and
microseconds to load. A stale or missing one is rebuilt, which is the only time PyYAML
and jsonschema are imported.

A bad rc edit must not take the server down (docs/reliability.md). Every rc that
validates is also kept as the *last good* rc (``~/.gitolite.rc.yaml.last-good``: JSON,
0600, written atomically and fsynced, never read through a symlink). When the sources
do not validate, the last good rc is served instead, and the cache records that (the
sources' stamps, the last good rc, the errors), so the sessions that follow pay nothing
more than while the rc was good; the first process of every session or command says so
(one ``warn`` log line; an admin's command also a warning on stderr). The next edit that
validates is served at once. With no usable last good rc, an invalid rc raises RcError
(fail closed). A cache that is truncated, damaged or not a plain file is rebuilt.
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
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any


# 5: the schema refuses a UMASK with owner bits; an older cache may hold one.
# 6: a cache may stand for an invalid rc served from the last good one ("fallback").
# 7: COMMANDS and the D/desc settings (an older cache lacks them).
# 8: HOSTNAME (an older cache dropped it as a trigger list).
CACHE_VERSION = 8
LAST_GOOD_FORMAT = "gitolite-triggers last good rc"
SAFE_UMASK = 0o077  # every entry point's first act, before anything can be written
ALWAYS_FIREABLE = ("POST_COMPILE", "POST_CREATE")

__all__ = ["Rc", "RcError", "load_rc", "source_files", "build", "read_last_good"]
_NOFOLLOW_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_announced = False  # this process has said it runs on the last good rc


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


def _read_private(path: str) -> bytes | None:
    """A 0600 file of ours, whole, never through a symlink; None when it is not one."""
    import stat

    try:
        fd = os.open(path, _NOFOLLOW_READ)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)  # one written before these files were kept private
        parts = []
        while True:
            part = os.read(fd, 1 << 20)
            if not part:
                break
            parts.append(part)
        return b"".join(parts)
    except OSError:
        return None
    finally:
        os.close(fd)


def _well_formed(doc: Any) -> bool:
    """The shape Rc needs: a damaged cache or last good rc is never half-trusted."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("settings"), dict)
        and isinstance(doc.get("triggers"), dict)
        and isinstance(doc.get("hooks"), dict)
    )


def _read_cache(stamps: list[list[Any]]) -> dict[str, Any] | None:
    """The cached rc if it is whole and current, else None (then it is rebuilt)."""
    data = _read_private(paths.rc_cache_file())
    magic = _cache_magic()
    if data is None or not data.startswith(magic):
        return None
    try:
        doc = marshal.loads(data[len(magic) :])
    except (ValueError, EOFError, TypeError):
        return None  # truncated or damaged: rebuilt from the YAML
    if not _well_formed(doc) or doc.get("version") != CACHE_VERSION or doc.get("sources") != stamps:
        return None
    current: dict[str, Any] = doc
    return current


def last_good_file() -> str:
    """Where the last rc that validated is kept, beside the main rc."""
    return paths.rc_file() + ".last-good"


def _write_last_good(effective: dict[str, Any]) -> None:
    """Keep ``effective`` (just validated) as the last good rc: 0600, atomic, fsynced."""
    import json

    from gitolite_triggers.atomicfile import write_atomic

    doc = {
        "format": LAST_GOOD_FORMAT,
        "version": CACHE_VERSION,
        "validated": int(time.time()),
        "rc": effective,
    }
    data = json.dumps(doc, sort_keys=True).encode()
    try:
        current = _read_private(last_good_file())
        if current is not None and _same_rc(current, effective):
            return  # the same rc again (a touched file): no write, no fsync
        write_atomic(last_good_file(), data, 0o600, fsync=True)
    except OSError:
        pass  # a full or read-only home: the older last good rc (if any) stays


def _same_rc(data: bytes, effective: dict[str, Any]) -> bool:
    import json

    try:
        return bool(json.loads(data).get("rc") == effective)
    except (ValueError, AttributeError):
        return False


def read_last_good() -> tuple[dict[str, Any] | None, str]:
    """(the last good rc, "") or (None, why it cannot be used)."""
    import json

    data = _read_private(last_good_file())
    if data is None:
        if os.path.lexists(last_good_file()):
            return None, f"{last_good_file()} is not a plain file"
        return None, "there is no last good rc"
    try:
        doc = json.loads(data)
    except ValueError:
        return None, f"{last_good_file()} is damaged (not whole JSON)"
    if not isinstance(doc, dict) or doc.get("format") != LAST_GOOD_FORMAT:
        return None, f"{last_good_file()} is damaged (not a last good rc)"
    if doc.get("version") != CACHE_VERSION:
        return None, f"{last_good_file()} was written by another version of gitolite-triggers"
    rc = doc.get("rc")
    if not _well_formed(rc) or not isinstance(doc.get("validated"), int):
        return None, f"{last_good_file()} is damaged (incomplete)"
    assert isinstance(rc, dict)  # _well_formed
    return {**rc, "fallback": {"validated": doc["validated"]}}, ""


def _fall_back(errors: list[str]) -> dict[str, Any]:
    """The last good rc, marked as standing in for the invalid one; RcError without one."""
    doc, why = read_last_good()
    if doc is None:
        why = f"no last good rc to fall back on: {why}"
        raise RcError(f"invalid rc, refusing to run ({why}):\n" + "\n".join(errors))
    doc["fallback"]["errors"] = errors
    return doc


def load_rc(use_cache: bool = True, announce: bool = True) -> Rc:
    """The effective rc; the last good one while the sources are invalid (see above);
    raises RcError (with every file:line message) if they are invalid and none is usable.

    ``announce`` False: say nothing about the last good rc (sshd's AuthorizedKeysCommand,
    which must print nothing but a key line and runs twice per login; the session that
    follows logs it)."""
    stamps = _stamps()
    doc = _read_cache(stamps) if use_cache else None
    if doc is None:
        effective, errors, _ = build()
        # Re-stamp after reading: an edit during the build must not be cached as current.
        current = _stamps() == stamps
        if errors:
            effective = _fall_back(errors)
        elif current:
            _write_last_good(effective)
        if current:
            _write_cache(effective, stamps)
        doc = effective
    rc = Rc(doc)
    if rc.fallback is not None and announce:
        _announce(rc)
    return rc


def fallback_summary(fallback: dict[str, Any]) -> str:
    """One line on the rc in force while the sources are invalid (log, admin, doctor)."""
    errors = fallback.get("errors") or []
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(fallback.get("validated") or 0))
    return (
        f"the rc is invalid ({len(errors)} error{'s' if len(errors) != 1 else ''}; "
        f"'gitolite-triggers rc check' shows them): running on the last good rc, "
        f"validated {when}"
    )


def _announce(rc: Rc) -> None:
    """Say loudly, once per process, that the last good rc is in force: a warning to an
    admin (never to a client), and a ``warn`` log line from the first process of a session
    or command (GL_TID unset: the forced command scrubbed it; the hooks inherit it)."""
    global _announced
    if _announced or rc.fallback is None:
        return
    _announced = True
    from gitolite_triggers.errors import talking_to_client

    text = fallback_summary(rc.fallback)
    if not talking_to_client():
        print(f"WARNING: {text}", file=sys.stderr)
    if os.environ.get("GL_TID") not in (None, "", str(os.getpid())):
        return
    # glog's line format, written here because glog imports this module (no cycles).
    stamp = time.strftime("%Y-%m-%d.%H:%M:%S", time.localtime())
    line = f"{stamp}\t{os.environ.get('GL_TID') or os.getpid()}\twarn\t{text}\n"
    try:
        path = rc.logfile()
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except OSError:
        pass  # an unwritable log is not a reason to refuse; the admin's warning stands


class Rc:
    """Read-only view of the effective rc with the accessors the rest of the code needs."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.settings: dict[str, Any] = doc["settings"]
        self.triggers: dict[str, list[dict[str, Any]]] = doc["triggers"]
        self.hooks: dict[str, list[dict[str, Any]]] = doc["hooks"]
        self.warnings: list[str] = doc.get("warnings", [])
        # Set while the sources are invalid and this is the last good rc standing in.
        self.fallback: dict[str, Any] | None = doc.get("fallback")

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

    def timeout_for(self, name: str, entry: Mapping[str, Any]) -> float | None:
        """An entry's timeout in seconds, None for none: its own ``timeout``, else
        TRIGGER_TIMEOUTS' figure for ``name``, else its ``default``; 0 means none."""
        seconds = entry.get("timeout")
        if seconds is None:
            table = self.settings.get("TRIGGER_TIMEOUTS") or {}
            seconds = table.get(name, table.get("default"))
        return float(seconds) if seconds else None

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
