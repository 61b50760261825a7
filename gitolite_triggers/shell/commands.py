"""The ssh commands: which are enabled, where each lives, how one runs; and ``help``.

gitolite's model (its ``src/commands``): one small program per command. Ours are modules,
``shell/cmd_<name>.py`` with ``run(rc, user, args) -> int``, listed in BUILTIN (one line
each). A site adds its own as executables in ``LOCAL_CODE/commands/<name>``, which win over
a built-in of the same name, as gitolite's LOCAL_CODE does.

Only the names in the rc's ``COMMANDS`` list may be run over ssh (gitolite's ENABLE; the
default is gitolite's: help desc info perms writable); ``gitolite <command>`` in the
account's own shell runs any of them. As in gitolite, commands get no ACCESS/PRE_GIT/
POST_GIT triggers and no END line. A refusal raises ``errors.Fatal`` (one ``FATAL:`` line,
one ``die`` log line).
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.errors import Fatal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc
    from gitolite_triggers.shell.soc import CommandRequest

# command name -> module with run(rc, user, args) -> int; one line each.
BUILTIN: dict[str, str] = {
    "help": "gitolite_triggers.shell.commands",
    "info": "gitolite_triggers.shell.cmd_info",
    "perms": "gitolite_triggers.shell.cmd_perms",
    "desc": "gitolite_triggers.shell.cmd_desc",
    "writable": "gitolite_triggers.shell.cmd_writable",
    "D": "gitolite_triggers.shell.cmd_d",
    "create": "gitolite_triggers.shell.cmd_create",
    "fork": "gitolite_triggers.shell.cmd_fork",
    "symbolic-ref": "gitolite_triggers.shell.cmd_symbolic_ref",
    "builds": "gitolite_triggers.shell.cmd_builds",
    "build": "gitolite_triggers.shell.cmd_build",
}

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def enabled(rc: Rc) -> tuple[str, ...]:
    """The commands ssh users may run (the rc's COMMANDS)."""
    return tuple(rc.get("COMMANDS") or ())


def site_command(rc: Rc, name: str) -> str | None:
    """``LOCAL_CODE/commands/<name>`` if it is an executable file (never a path: a name with
    a ``/`` or a leading ``.`` is not looked up)."""
    local = rc.get("LOCAL_CODE")
    if not local or not name or name[0] == "." or not NAME_CHARS.issuperset(name):
        return None
    path = os.path.join(local, "commands", name)
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return None


def lookup(rc: Rc, name: str) -> str | None:
    """Where command ``name`` lives: a site program's path, a built-in's module, or None."""
    return site_command(rc, name) or BUILTIN.get(name)


def available(rc: Rc) -> list[str]:
    """Every command that exists: the built-ins and the site's programs, sorted."""
    names = set(BUILTIN)
    local = rc.get("LOCAL_CODE")
    if local:
        try:
            names.update(
                n for n in os.listdir(os.path.join(local, "commands")) if site_command(rc, n)
            )
        except OSError:
            pass
    return sorted(names)


def run_command(rc: Rc, user: str, req: CommandRequest) -> int:
    """An ssh session's command (the wrapper parsed it against ``enabled``)."""
    if req.name not in enabled(rc):
        raise Fatal(f"unknown git/gitolite command: '{req.name}'")
    return run_named(rc, user, req.name, list(req.args))


def run_named(rc: Rc, user: str | None, name: str, args: list[str]) -> int:
    """Run command ``name`` for ``user`` (None: ``gitolite <command>`` without GL_USER)."""
    where = lookup(rc, name)
    if where is None:
        raise Fatal("unknown gitolite sub-command")
    if where.startswith("/"):
        return run_site(rc, user, where, args)
    from gitolite_triggers.shell.cmdlib import Quit

    module = __import__(where, fromlist=["run"])
    try:
        status: int = module.run(rc, user, args)
    except Quit as q:
        if q.message:
            sys.stderr.write(q.message + "\n")
        return q.status
    return status


def run_site(rc: Rc, user: str | None, path: str, args: list[str]) -> int:
    """A site command with gitolite's environment (GL_USER, GL_BINDIR on PATH, GL_REPO_BASE,
    GL_ADMIN_BASE, GL_LOGFILE, GL_TID: rc.apply_process_settings), its arguments as argv
    (no shell), the client's stdin and stdout; its exit status is the session's."""
    env = dict(os.environ)
    if user:
        env["GL_USER"] = user
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.posix_spawn(path, [path, *args], env)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return code if code >= 0 else 128 - code


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    """``help``: the greeting, the commands this user may run, SITE_INFO."""
    from gitolite_triggers.shell.cmdlib import greeting

    names = available(rc)
    if user:  # over ssh (or with GL_USER): what is enabled; in the account's shell: all
        names = [n for n in names if n in enabled(rc)]
    text = greeting(user or "") + "list of remote commands available:\n\n"
    text += "".join(f"\t{n}\n" for n in names) + "\n"
    site = rc.get("SITE_INFO")
    if site:
        text += f"{site}\n"
    sys.stdout.write(text)
    return 0
