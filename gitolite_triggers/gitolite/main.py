"""``gitolite SUB-COMMAND ...``: gitolite's CLI, dispatched to one small module per sub-command.

Why a second script: sites and integrators call ``gitolite access``, ``gitolite query-rc``,
``gitolite list-*`` from their own hooks, cron jobs and web front-ends; a switch from gitolite
must not break them. The output text and exit statuses are gitolite's (docs/gitolite-cli.md);
where gitolite dies with Perl's errno-derived status (25 or 255) we exit 1.

``gitolite <command>`` also runs the ssh commands (``info``, ``perms``, ``D``...: shell/commands.py)
and the site's ``LOCAL_CODE/commands/`` programs, as the user named by ``GL_USER`` (as gitolite
does: the account's own shell is trusted, so any command runs, enabled or not).
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.errors import Fatal
from gitolite_triggers.guard import guarded

# sub-command -> module with main(argv) -> int; one line each.
SUBCOMMANDS: dict[str, str] = {
    "setup": "gitolite_triggers.gitolite.admin",
    "compile": "gitolite_triggers.gitolite.admin",
    "compile-template-data": "gitolite_triggers.gitolite.admin",
    "trigger": "gitolite_triggers.gitolite.admin",
    "print-default-rc": "gitolite_triggers.gitolite.admin",
    "query-rc": "gitolite_triggers.gitolite.query_rc",
    "access": "gitolite_triggers.gitolite.access",
    "git-config": "gitolite_triggers.gitolite.git_config",
    "list-repos": "gitolite_triggers.gitolite.listers",
    "list-phy-repos": "gitolite_triggers.gitolite.listers",
    "list-users": "gitolite_triggers.gitolite.listers",
    "list-groups": "gitolite_triggers.gitolite.listers",
    "list-memberships": "gitolite_triggers.gitolite.listers",
    "list-members": "gitolite_triggers.gitolite.listers",
}

USAGE = """\
Usage:  gitolite [sub-command] [options]

Sub-commands of the account's own shell (run `gitolite <sub-command> -h` for details):

    setup               set up or repair the account (-pk ADMIN.pub | -a ADMIN, -ho, -m MSG)
    compile             compile the rules (no POST_COMPILE)
    compile-template-data   apply the conf's rule templates to the repos again
    trigger SECTION     fire a trigger section by hand
    query-rc            read the effective rc
    print-default-rc    print a commented starting rc
    access              check access (gitolite's syntax, % batch mode)
    git-config          a repo's config values from the rules
    list-repos, list-phy-repos, list-users, list-groups,
    list-memberships -u USER | -r REPO, list-members @GROUP

Any ssh command (info, help, perms, desc, writable, D, create, fork, symbolic-ref, and the
site's LOCAL_CODE/commands/) runs as `gitolite <command> ...` with GL_USER set.
"""


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # as every entry point: nothing written world-readable before the rc's UMASK
    args = sys.argv[1:] if argv is None else argv
    return guarded(lambda: run(args), client=False)


def run(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 1 if not args else 0
    name, rest = args[0], args[1:]
    _log_cli(args)
    target = SUBCOMMANDS.get(name)
    if target is not None:
        module = __import__(target, fromlist=["main"])
        status: int = module.main(name, rest)
        return status
    from gitolite_triggers.rc import load_rc
    from gitolite_triggers.shell.commands import lookup, run_named

    rc = load_rc()
    if lookup(rc, name) is None:
        raise Fatal("unknown gitolite sub-command")
    rc.apply_process_settings()
    return run_named(rc, os.environ.get("GL_USER") or None, name, rest)


def _log_cli(args: list[str]) -> None:
    """gitolite's ``cli gitolite <argv>`` log line, once the admin base exists (never fails)."""
    try:
        from gitolite_triggers import glog
        from gitolite_triggers.rc import load_rc

        rc = load_rc()
        if os.path.isdir(rc.admin_base):
            glog.log(rc, "cli", "gitolite", *args)
    except Exception:  # a broken rc is reported by the sub-command itself
        pass
