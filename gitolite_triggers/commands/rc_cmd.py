"""``gitolite-triggers rc show [KEY]``, ``rc check [FILE...]`` and ``rc import PERL_RC``.

``import`` reads a gitolite v3 rc with perl and writes ours from it
(``migrate/rcimport.py``); it prints what it carried over and, by name, what it could
not, with what that means for the site. ``--dry-run`` prints the files instead.

``show`` prints the effective value of every key (or one), and for trigger lists which
file and line each entry came from. ``check`` validates the rc and its fragments (or
the files named) and exits 0 when valid, 1 when not; did-you-mean warnings never fail it.
An invalid rc (all of it checked) also gets a note on what the server serves meanwhile:
the last good rc, or nothing (docs/reliability.md).

Checking the whole rc (no files named) also resolves the program of every entry of every
trigger sequence and hook list, as the runner would: one that cannot be found is an error
in a sequence that guards access (runner.GUARDS: it would deny every request) and a
warning elsewhere (it would be skipped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gitolite_triggers.errors import Fatal
from gitolite_triggers.rc import Rc, build, load_rc, source_files


def _builtin_commands() -> frozenset[str]:
    """The ssh commands this version has (an import names an ENABLE'd one it lacks)."""
    from gitolite_triggers.shell.commands import BUILTIN

    return frozenset(BUILTIN)


def _show_entries(entries: list[dict[str, Any]], indent: str = "  ") -> None:
    for e in entries:
        extra = []
        if e.get("timeout"):
            extra.append(f"timeout={e['timeout']:g}s")
        if e.get("on_failure", "abort") != "abort":
            extra.append(f"on_failure={e['on_failure']}")
        tail = f"  [{', '.join(extra)}]" if extra else ""
        print(f"{indent}{e['text']}{tail}    # {e['source']}")


def show(rc: Rc, key: str | None) -> int:
    if key is None:
        for k, v in rc.settings.items():
            print(f"{k}: {f'{v:04o}' if k == 'UMASK' else json.dumps(v)}")
        for hook, entries in rc.hooks.items():
            if entries:
                print(f"hooks.{hook}:")
                _show_entries(entries)
        for name in sorted(rc.triggers):
            print(f"{name}:")
            _show_entries(rc.triggers[name])
        return 0
    if key in rc.triggers:
        _show_entries(rc.triggers[key], indent="")
        return 0
    if key.startswith("hooks.") and key[6:] in rc.hooks:
        _show_entries(rc.hooks[key[6:]], indent="")
        return 0
    if key == "UMASK":
        print(f"{rc.umask:04o}")  # as an admin writes it, not the int it is
        return 0
    if key in rc.settings:
        value = rc.settings[key]
        print(value if isinstance(value, str) else json.dumps(value, indent=2))
        return 0
    raise Fatal(f"'{key}' is not set in the rc")


def check(files: list[str]) -> int:
    paths = [Path(f) for f in files] if files else source_files()
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        print(f"{p}: no such file", file=sys.stderr)
    effective, errors, warnings = build([p for p in paths if p.exists()])
    if not files:  # also when some file is invalid: every problem in one run
        errors = [*errors, *_unresolved(effective, "error")]
        warnings = [*warnings, *_unresolved(effective, "warning")]
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    for e in errors:
        print(e, file=sys.stderr)
    if errors or missing:
        if not files:
            from gitolite_triggers.rc.state import last_good_note

            print(f"note: {last_good_note()}", file=sys.stderr)
        return 1
    print(f"rc OK ({len(paths)} file{'s' if len(paths) != 1 else ''})")
    return 0


def _unresolved(effective: dict[str, Any], kind: str) -> list[str]:
    """Entries whose program cannot be resolved: ``kind`` "error" for the access guards,
    "warning" for the rest."""
    from gitolite_triggers.programs import NotFound, resolve
    from gitolite_triggers.runner import GUARDS

    local_code = (effective.get("settings") or {}).get("LOCAL_CODE")
    lists = [*(effective.get("triggers") or {}).items(), *(effective.get("hooks") or {}).items()]
    out = []
    for name, entries in lists:
        if (name in GUARDS) != (kind == "error"):
            continue
        for entry in entries:
            try:
                resolve(entry["program"], local_code)
            except NotFound as e:
                what = "would deny every request" if kind == "error" else "would be skipped"
                out.append(f"{entry['source']}: {name}: program '{entry['program']}' {e}; {what}")
    return out


def import_rc(perl_rc: str, overlays: list[str], dry_run: bool, quiet: bool) -> int:
    """Import a Perl rc; exit 0 when our rc is valid afterwards (notes do not fail it)."""
    from gitolite_triggers import paths
    from gitolite_triggers.commands.setup_cmd import refresh_rc_d
    from gitolite_triggers.migrate.rcimport import plan_import, write_import

    written = plan_import(perl_rc, tuple(overlays), commands=_builtin_commands())
    if dry_run:
        print(f"# would write {paths.rc_file()}:")
        print(written.main_text, end="")
        print(f"# would write {paths.rc_d_dir()}/60-imported.yaml:")
        print(written.fragment_text, end="")
    else:
        done = refresh_rc_d(Path(paths.rc_d_dir()))
        done.extend(write_import(written))
        if not quiet:
            for line in done:
                print(line)
    if not quiet:
        for name in written.imported.carried:
            print(f"carried over: {name}")
    for note in written.imported.notes:
        print(f"not carried over: {note.name}: {note.meaning}", file=sys.stderr)
    if dry_run:
        return 0
    _, errors, _ = build(source_files())
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="gitolite-triggers rc",
        description="Show the effective rc (the main rc merged with ~/.gitolite.rc.d/*.yaml)"
        " or check it.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show_p = actions.add_parser(
        "show",
        help="print every setting and trigger list, or one",
        description="Print the effective value of every setting and list, or of KEY; each"
        " trigger entry with the file and line it came from.",
    )
    show_p.add_argument(
        "key", nargs="?", metavar="KEY", help="a setting, a trigger name, or hooks.HOOK"
    )
    check_p = actions.add_parser(
        "check",
        help="validate the rc and its fragments; exit 1 on any error",
        description="Report every problem of every file in one run (file:line:col), then"
        " resolve every trigger program; exit 0 when valid, 1 when not. Warnings never fail.",
    )
    check_p.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="check only these files (default: the main rc and every fragment, merged)",
    )
    import_p = actions.add_parser(
        "import",
        help="write our rc from a gitolite v3 rc (Perl), evaluated by perl",
        description="Evaluate PERL_RC with perl (a child process) and write ~/.gitolite.rc.yaml"
        " and ~/.gitolite.rc.d/60-imported.yaml from its %%RC; report, by name, what cannot"
        " be carried over. Run it again after editing PERL_RC.",
    )
    import_p.add_argument("perl_rc", metavar="PERL_RC", help="e.g. ~/.gitolite.rc")
    import_p.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="FILE",
        help="a Perl file evaluated after PERL_RC that sets $rc{KEY} (gitolite's G3T_RC)",
    )
    import_p.add_argument("--dry-run", action="store_true", help="print, write nothing")
    import_p.add_argument(
        "-q", "--quiet", action="store_true", help="print only what is not carried over"
    )
    ns = parser.parse_args(argv)
    if ns.action == "import":
        return import_rc(ns.perl_rc, ns.also, ns.dry_run, ns.quiet)
    if ns.action == "check":
        return check(ns.files)
    return show(load_rc(), ns.key)
