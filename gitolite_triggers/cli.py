"""``gitolite-triggers COMMAND ...``: a thin dispatcher that imports only the command it runs.

``shell`` and the hooks are on every fetch and push, so this module imports nothing
heavy; each command lives in its own module with ``main(argv) -> int``.

Fail closed: every command except ``rc check`` (whose job is to report rc errors) and
``setup`` (which may be creating the rc) refuses to run on an invalid rc, printing the
rc's file:line messages and exiting 1. Commands load the rc themselves through
``gitolite_triggers.rc.load_rc``; the RcError it raises is reported here.
"""

from __future__ import annotations

import sys

from gitolite_triggers.rcerrors import RcError

COMMANDS: dict[str, tuple[str, str]] = {
    "rc": ("gitolite_triggers.commands.rc_cmd", "show or check the effective rc"),
    "trigger": ("gitolite_triggers.commands.trigger_cmd", "fire a trigger sequence by hand"),
    "access": ("gitolite_triggers.commands.access_cmd", "check access: REPO USER PERM REF"),
    "compile": ("gitolite_triggers.commands.compile_cmd", "compile the access rules"),
    "setup": ("gitolite_triggers.commands.setup_cmd", "prepare or repair a server account"),
    "shell": ("gitolite_triggers.shell.wrapper", "the ssh forced command: shell USER"),
    "buildkite": (
        "gitolite_triggers.buildkite.cli",
        "Buildkite delivery: status, deliver, retry, check",
    ),
    "demo": ("gitolite_triggers.demo", "run the sandboxed demo server"),
}

USAGE = "usage: gitolite-triggers COMMAND [ARGS...]\n\ncommands:\n" + "\n".join(
    f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] in ("--version", "-V"):
        from gitolite_triggers import __version__

        print(f"gitolite-triggers {__version__}")
        return 0
    name = args[0]
    if name not in COMMANDS:
        print(f"gitolite-triggers: unknown command '{name}'\n\n{USAGE}", file=sys.stderr)
        return 2
    # __import__ rather than importlib: the importlib package costs start-up time.
    module = __import__(COMMANDS[name][0], fromlist=["main"])
    try:
        return int(module.main(args[1:]) or 0)
    except RcError as e:
        print(f"FATAL: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
