"""``gitolite-triggers trigger [-v] [--dry-run] [--as USER] NAME [ARGS...]``: fire a sequence by hand.

Exits with the sequence's status, like ``gitolite trigger``. Only names defined in the
rc may be fired (plus POST_COMPILE and POST_CREATE, which are always allowed, even
empty), so a typo is an error rather than a silent no-op. ``--as USER`` sets GL_USER for
the programs, so a hand-fired sequence sees what it sees in a real session. Options
are parsed by cliargs (no argparse: firing a trigger is on the hot path).
"""

from __future__ import annotations

import sys

from gitolite_triggers.cliargs import Option, Parser
from gitolite_triggers.errors import Fatal
from gitolite_triggers.rc import load_rc
from gitolite_triggers.runner import Options, fire

PARSER = Parser(
    "gitolite-triggers trigger",
    "Fire a trigger sequence by hand; exit with its status.",
    options=(
        Option("-v", "--verbose", help="print each program, its argv and its result"),
        Option("-n", "--dry-run", help="print what would run (argv shell-quoted), run nothing"),
        Option("--as", metavar="USER", help="set GL_USER=USER for the programs, as a session does"),
    ),
    arguments=(
        ("NAME", "trigger name defined in the rc, e.g. POST_COMPILE or PRE_GIT"),
        ("ARGS", "the trigger's own arguments, e.g. REPO USER PERM REF VERB for PRE_GIT"),
    ),
    arguments_usage="NAME [ARGS ...]",
    epilog="Options come before NAME: every word after NAME is passed to the programs.",
)


def main(argv: list[str]) -> int:
    opts, words = PARSER.parse(argv)
    user = opts["as"]
    if isinstance(user, str):
        from gitolite_triggers.names import is_user_name

        if not is_user_name(user):
            PARSER.error(f"--as: invalid user name '{user}'")
    name, args = (words[0], words[1:]) if words else ("", [])
    rc = load_rc()
    defined = rc.fireable()
    if not name or name not in defined:
        what = f"trigger '{name}' is not defined in the rc" if name else "no trigger name given"
        raise Fatal(f"{what}; defined triggers: {', '.join(defined)}", 2)
    rc.apply_process_settings()
    dry_run = bool(opts["dry_run"])
    run_opts = Options(
        verbose=bool(opts["verbose"]), dry_run=dry_run, out=sys.stdout if dry_run else sys.stderr
    )
    return fire(rc, name, *args, opts=run_opts, user=user if isinstance(user, str) else None)
