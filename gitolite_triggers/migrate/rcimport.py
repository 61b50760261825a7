"""``rc import``: a gitolite v3 Perl rc into ``~/.gitolite.rc.yaml`` and one rc.d fragment.

The settings go to the main rc, the trigger lists to ``~/.gitolite.rc.d/60-imported.yaml``:
a fragment sorts after the shipped ones, so its ``remove:`` items see the shipped entries
they drop (the main rc is merged first and could not). Both files are rewritten whole on
every import, so importing again after editing the Perl rc is how a site (or gitolite's
test suite) changes settings. A main rc that an import did not write is kept beside it as
``.gitolite.rc.yaml.before-import`` first.

Each setting is validated on its own against our schema before it is written; one that
our schema refuses is reported (a ``Note``) instead of making the whole rc invalid.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from gitolite_triggers import paths
from gitolite_triggers.atomicfile import write_atomic
from gitolite_triggers.migrate.perlrc import read_perl_rc
from gitolite_triggers.migrate.rcmap import Imported, Note, map_rc

MARKER = "# written by `gitolite-triggers rc import`"
FRAGMENT = "60-imported.yaml"
KEPT_SUFFIX = ".before-import"


class Written(NamedTuple):
    """What an import wrote (or would write) and what it could not carry over."""

    main_text: str
    fragment_text: str
    imported: Imported
    kept: str | None


def _schema_keys() -> set[str]:
    from gitolite_triggers.rc.validate import schema

    return set((schema().get("properties") or {}).keys())


def _resolvable(program: str, local_code: str | None) -> bool:
    from gitolite_triggers.programs import NotFound, resolve

    try:
        resolve(program, paths.expand(local_code) if local_code else None)
    except NotFound:
        return False
    return True


def _command_checker(builtin: frozenset[str]) -> Any:
    """``command_available(name, local_code)`` for ``map_rc``: one of ``builtin`` (the ssh
    commands this version has; the caller, a command-line module, names them) or an
    executable ``LOCAL_CODE/commands/NAME``, as the shell looks them up."""

    def available(name: str, local_code: str | None) -> bool:
        if name in builtin:
            return True
        if not local_code or "/" in name or name.startswith("."):
            return False
        path = os.path.join(paths.expand(local_code), "commands", name)
        return os.path.isfile(path) and os.access(path, os.X_OK)

    return available


def _valid_alone(key: str, value: Any) -> str | None:
    """None when our schema accepts ``key: value``; else the validator's message."""
    import yaml

    from gitolite_triggers.rc import build

    with tempfile.TemporaryDirectory(prefix="gl-rc-import-") as tmp:
        probe = Path(tmp) / "probe.yaml"
        probe.write_text(yaml.safe_dump({key: value}, default_flow_style=False))
        _, errors, _ = build([probe])
    return "; ".join(e.split(": ", 1)[-1] for e in errors) or None


def _render(header: str, data: dict[str, Any]) -> str:
    import yaml

    body = yaml.safe_dump(data, default_flow_style=False, sort_keys=False) if data else "{}\n"
    return header + body


def plan_import(
    perl_rc: str,
    overlays: tuple[str, ...] = (),
    hooks: dict[str, list[str]] | None = None,
    commands: frozenset[str] | None = None,
) -> Written:
    """Evaluate ``perl_rc`` and map it; nothing is written.

    ``hooks`` (hook name -> programs) is added to the fragment's ``hooks:`` lists: migrate
    carries LOCAL_CODE's common hooks there. ``commands``: the built-in ssh commands, so an
    ENABLE'd command that exists neither there nor in LOCAL_CODE/commands is named.
    """
    rc = read_perl_rc(perl_rc, overlays)
    checker = _command_checker(commands) if commands is not None else None
    imported = map_rc(rc, _schema_keys(), _resolvable, checker)
    if hooks:
        imported.triggers["hooks"] = {k: list(v) for k, v in hooks.items()}
    settings: dict[str, Any] = {}
    notes = list(imported.notes)
    for key, value in imported.settings.items():
        problem = _valid_alone(key, value)
        if problem:
            notes.append(Note(key, f"our rc refuses its value ({problem}); the default applies"))
            imported.carried.remove(key)
        else:
            settings[key] = value
    imported = imported._replace(settings=settings, notes=notes)
    source = os.path.abspath(perl_rc)
    lines = [f"{MARKER} from {source}; import again after editing that file."]
    if notes:
        lines.append("# not carried over (see `gitolite-triggers rc import` output):")
        lines.extend(f"#   {n.name}: {n.meaning}" for n in notes)
    header = "\n".join(lines) + "\n"
    main_text = _render(header, settings)
    fragment_text = _render(
        f"{MARKER} from {source}: its trigger lists, after the shipped ones.\n", imported.triggers
    )
    kept = None
    main = paths.rc_file()
    try:
        with open(main, encoding="utf-8", errors="replace") as f:
            if not f.read(len(MARKER)).startswith(MARKER):
                kept = main + KEPT_SUFFIX
    except FileNotFoundError:
        pass
    return Written(main_text, fragment_text, imported, kept)


def write_import(written: Written) -> list[str]:
    """Write the planned files; return what was done."""
    done = []
    main = paths.rc_file()
    if written.kept:
        os.replace(main, written.kept)
        done.append(f"kept your {main} as {written.kept}")
    rc_d = paths.rc_d_dir()
    os.makedirs(rc_d, mode=0o700, exist_ok=True)
    write_atomic(os.path.join(rc_d, FRAGMENT), written.fragment_text.encode())
    write_atomic(main, written.main_text.encode())
    done.append(f"wrote {main} and {os.path.join(rc_d, FRAGMENT)}")
    return done
