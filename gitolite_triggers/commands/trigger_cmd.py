"""``gitolite-triggers trigger [-v] [--dry-run] NAME [ARGS...]``: fire a sequence by hand.

Exits with the sequence's status, like ``gitolite trigger``. Only names defined in the
rc may be fired (plus POST_COMPILE and POST_CREATE, which are always allowed, even
empty), so a typo is an error rather than a silent no-op.
"""

from __future__ import annotations

import argparse
import sys

from gitolite_triggers.rc import load_rc
from gitolite_triggers.runner import Options, fire


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="gitolite-triggers trigger", description="fire a trigger sequence"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print each program, its argv and its result"
    )
    parser.add_argument(
        "-n", "--dry-run", action="store_true", help="print what would run, run nothing"
    )
    parser.add_argument("name", nargs="?", default="", help="trigger name, e.g. POST_COMPILE")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="trigger-specific arguments")
    ns = parser.parse_args(argv)
    rc = load_rc()
    defined = rc.fireable()
    if not ns.name or ns.name not in defined:
        what = (
            f"trigger '{ns.name}' is not defined in the rc" if ns.name else "no trigger name given"
        )
        print(f"FATAL: {what}; defined triggers: {', '.join(defined)}", file=sys.stderr)
        return 2
    rc.apply_process_settings()
    opts = Options(
        verbose=ns.verbose, dry_run=ns.dry_run, out=sys.stdout if ns.dry_run else sys.stderr
    )
    return fire(rc, ns.name, *ns.args, opts=opts)
