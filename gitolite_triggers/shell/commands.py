"""The commands a user can run over ssh: ``info``, ``help``, ``perms`` (gitolite's syntax).

As in gitolite, commands get no ACCESS/PRE_GIT/POST_GIT triggers and no END line. A
refusal raises ``errors.Fatal`` (one ``FATAL:`` line, one ``die`` log line).
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.errors import Fatal
from gitolite_triggers.names import is_user_name, repo_name_problem
from gitolite_triggers.rc import Rc
from gitolite_triggers.shell.soc import CommandRequest

GENERIC_ERROR = "repo does not exist, or you are not authorised"
PERMS_USAGE = """\
perms -- list or set permissions for a user-created ("wild") repo.

Usage summary:
    ssh git@host perms <repo> -l
    ssh git@host perms <repo> + <rolename> <username>
    ssh git@host perms <repo> - <rolename> <username>

Examples:
    ssh git@host perms my/repo + READERS alice
    ssh git@host perms my/repo + WRITERS bob

Only the repo's creator may list or change its roles; the role names are the rc's ROLES.
"""


def run_command(rc: Rc, user: str, req: CommandRequest) -> int:
    handler = HANDLERS[req.name]
    return handler(rc, user, list(req.args))


def builds(rc: Rc, user: str, args: list[str]) -> int:
    from gitolite_triggers.shell.cmd_builds import main  # the network path: loaded here

    return main(rc, user, args)


def build(rc: Rc, user: str, args: list[str]) -> int:
    from gitolite_triggers.shell.cmd_build import main

    return main(rc, user, args)


def greeting(user: str) -> str:
    """gitolite's first line of ``info``/``help``."""
    from gitolite_triggers import __version__

    host = os.uname().nodename.split(".")[0]
    git = _git_version() or "?"
    account = os.environ.get("USER") or "git"
    return f"hello {user}, this is {account}@{host} running gitolite-triggers {__version__} on git {git}\n"


def _git_version() -> str:
    """``git --version`` without the subprocess module (the hot path's rule, docs/architecture.md)."""
    read, write = os.pipe()
    try:
        pid = os.posix_spawnp(
            "git",
            ["git", "--version"],
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_CLOSE, read)],
        )
    except OSError:
        os.close(read)
        return ""
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out.decode("utf-8", "replace").strip().removeprefix("git version ")


def _perm_string(rc: Rc, repo: str, user: str, letters: tuple[str, ...]) -> str:
    """gitolite info's column: ' R W C' with two spaces for each letter not granted."""
    from gitolite_triggers.conf.query import access, is_denied

    out = ""
    for aa in letters:
        try:
            denied = is_denied(access(rc, repo, user, aa, "any"))
        except Exception:  # a pattern the rules cannot evaluate: not listed
            denied = True
        out += "  " if denied else f" {aa.lstrip('^')}"
    return out


def info(rc: Rc, user: str, args: list[str]) -> int:
    """Patterns the user can create or read/write (R W C), then existing repos (R W)."""
    from gitolite_triggers.conf.query import readable, wild_patterns
    from gitolite_triggers.repos import physical_repos

    if args:
        raise Fatal("info takes no arguments here")
    lines = [greeting(user), "\n"]
    for pattern in sorted(wild_patterns(rc)):
        perm = _perm_string(rc, pattern, user, ("R", "W", "^C"))
        if perm.strip():
            lines.append(f"{perm}\t{pattern}\n")
    # W implies R in gitolite's rule syntax (R, RW, RW+...), so one bulk read check
    # picks the repos to list and only those get the W check: fast with 10,000 repos.
    for repo in sorted(readable(rc, user, physical_repos(rc))):
        perm = " R" + _perm_string(rc, repo, user, ("W",))
        lines.append(f"{perm}\t{repo}\n")
    site = rc.get("SITE_INFO")
    if site:
        lines.append(f"\n{site}\n")
    sys.stdout.write("".join(lines))
    return 0


def help_(rc: Rc, user: str, args: list[str]) -> int:
    names = "".join(f"\t{name}\n" for name in sorted(HANDLERS))
    text = greeting(user) + "\nlist of remote commands available:\n\n" + names
    site = rc.get("SITE_INFO")
    if site:
        text += f"\n{site}\n"
    sys.stdout.write(text)
    return 0


# ---------------------------------------------------------------- perms


def _owned_path(rc: Rc, repo: str, user: str) -> str | None:
    """The repo's directory if it exists and ``user`` created it, else None."""
    from gitolite_triggers.conf.query import creator
    from gitolite_triggers.repos import inside_repo_base, repo_path

    if repo_name_problem(repo):
        return None
    path = repo_path(rc, repo)
    if not path.is_dir() or not inside_repo_base(rc, path):
        return None
    return str(path) if creator(rc, repo) == user else None


def _read_lines(pf: str) -> list[str]:
    try:
        with open(pf, encoding="utf-8") as f:
            return [line if line.endswith("\n") else line + "\n" for line in f]
    except FileNotFoundError:
        return []


def _write_atomic(pf: str, lines: list[str]) -> None:
    from gitolite_triggers.atomicfile import AS_OPEN, write_atomic

    write_atomic(pf, "".join(lines).encode("utf-8"), AS_OPEN, fsync=False)


def perms(rc: Rc, user: str, args: list[str]) -> int:
    """``perms REPO -l`` | ``perms REPO + ROLE USER`` | ``perms REPO - ROLE USER``."""
    if len(args) < 2 or args[0] in ("-h", "--help"):
        sys.stdout.write(PERMS_USAGE)
        return 1
    repo = args[0]
    path = _owned_path(rc, repo, user)
    if path is None:
        raise Fatal(GENERIC_ERROR)
    pf = os.path.join(path, "gl-perms")
    if args[1:] == ["-l"]:
        sys.stdout.write("".join(_read_lines(pf)))
        return 0
    if len(args) != 4 or args[1] not in ("+", "-"):
        raise Fatal("Invalid syntax.  Please re-run with '-h' for detailed usage")
    op, role, who = args[1:]
    if not is_user_name(who):
        raise Fatal(f"Invalid user '{who}'")
    roles = list(rc.get("ROLES") or [])
    if op == "+" and role not in roles:
        raise Fatal(f"Invalid role '{role}'; valid roles: {' '.join(roles)}")
    line = f"{role} {who}\n"
    # One writer at a time: read-modify-write under a lock, then an atomic rename.
    import fcntl

    with open(pf + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = _read_lines(pf)
        present = line in lines
        if op == "-":
            if not present:
                print(f"WARNING: '{role} {who}' was not present in file", file=sys.stderr)
                return 0
            lines = [x for x in lines if x != line]
        else:
            if present:
                print(f"WARNING: '{role} {who}' already present in file", file=sys.stderr)
                return 0
            lines = sorted([*lines, line])
        _write_atomic(pf, lines)
    from gitolite_triggers import glog
    from gitolite_triggers.runner import Options, fire

    glog.log(rc, "perms", repo, user, op, role, who)
    # gitolite fires POST_CREATE with a third arg 'perms' ("permissions changed") so the
    # gitweb/daemon list updaters pick up the new readers.
    return fire(rc, "POST_CREATE", repo, user, "perms", opts=Options(stdout_to_stderr=True))


# One line per command; soc.COMMANDS lists the names the parser lets through.
HANDLERS = {
    "info": info,
    "help": help_,
    "perms": perms,
    "builds": builds,
    "build": build,
}
