"""``gitolite-triggers COMMAND ...``: a thin dispatcher that imports only the command it runs.

``shell`` and the hooks are on the hot path (docs/architecture.md); each command lives in its own module with ``main(argv) -> int``.

Fail closed: every command except ``rc check`` (whose job is to report rc errors) and
``setup`` (which may be creating the rc) refuses to run on an invalid rc. Commands load
the rc themselves through ``gitolite_triggers.rc.load_rc``. What escapes a command (a
``Fatal`` refusal, the RcError it raises, any unexpected exception) is reported by
``guard.guarded``, the one error handler (the repo hooks use it too), which knows who is
listening:

- a refusal (``Fatal``): ``FATAL: <message>`` to either audience, a ``die`` log line;
- a client (``shell``, the hooks) with a broken rc or an unexpected error: one generic
  line, ``FATAL: server configuration error; ask an admin (ref <GL_TID>)`` (or ``internal
  error``); no path, no parser message, no traceback;
- an admin (every other command, run by the account): the rc's file:line messages, or the
  exception's type and message.

Either way the detail (with the traceback for an unexpected exception) goes to the log,
to the default log under HOME when the rc itself is what failed.

The umask is set to 0077 before anything else, so nothing (the rc cache rebuilt by
``load_rc``, a log folder) is written world-readable before the rc's UMASK is known.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.guard import guarded

CLIENT_COMMANDS = ("shell",)

COMMANDS: dict[str, tuple[str, str]] = {
    "rc": ("gitolite_triggers.commands.rc_cmd", "show or check the effective rc"),
    "trigger": ("gitolite_triggers.commands.trigger_cmd", "fire a trigger sequence by hand"),
    "access": ("gitolite_triggers.commands.access_cmd", "check access: REPO USER PERM REF"),
    "compile": ("gitolite_triggers.commands.compile_cmd", "compile the access rules"),
    "setup": ("gitolite_triggers.commands.setup_cmd", "prepare or repair a server account"),
    "shell": ("gitolite_triggers.shell.wrapper", "the ssh forced command: shell USER"),
    "authorized-keys": (
        "gitolite_triggers.commands.authkeys_cmd",
        "sshd's AuthorizedKeysCommand: USER KEYTYPE KEY",
    ),
    "buildkite": (
        "gitolite_triggers.buildkite.cli",
        "Buildkite delivery: status, deliver, retry, check",
    ),
    "migrate": ("gitolite_triggers.commands.migrate_cmd", "take over a gitolite v3 home in place"),
    "demo": ("gitolite_triggers.demo", "run the sandboxed demo server"),
    "doctor": ("gitolite_triggers.commands.doctor_cmd", "check the server; --fix repairs"),
}

USAGE = (
    "usage: gitolite-triggers [-h] [-V] COMMAND [ARGS...]\n\ncommands:\n"
    + "\n".join(f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items())
    + "\n\noptions:\n  -h, --help     show this help message and exit"
    + "\n  -V, --version  print the version and exit"
    + "\n\n`gitolite-triggers COMMAND --help` (or `help COMMAND`) describes a command."
)


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # rc.SAFE_UMASK, without importing rc before the command needs it
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["help"] and len(args) == 2:  # `help COMMAND` is `COMMAND --help`
        args = [args[1], "--help"]
    if not args or args[0] in ("-h", "--help", "help"):
        out = sys.stdout if args else sys.stderr  # no command: a usage error
        return guarded(lambda: print(USAGE, file=out) or (0 if args else 2), client=False)
    if args[0] in ("--version", "-V"):
        from gitolite_triggers import __version__

        return guarded(lambda: print(f"gitolite-triggers {__version__}"), client=False)
    name = args[0]
    if name not in COMMANDS:
        print(f"gitolite-triggers: unknown command '{name}'\n\n{USAGE}", file=sys.stderr)
        return 2
    module = __import__(COMMANDS[name][0], fromlist=["main"])
    return guarded(lambda: module.main(args[1:]), client=name in CLIENT_COMMANDS)
