"""``perms``: list or set the roles of a user-created ("wild") repo (gitolite's syntax).

    perms REPO -l                  the repo's gl-perms
    perms REPO -lr                 the roles the rules give this repo, and what each may do
    perms REPO + ROLE USER         grant; perms REPO - ROLE USER: revoke
    perms -c REPO ...              create the repo first if it does not exist (as a push would)
    perms -c REPO                  (no change given) replace gl-perms with stdin's lines

Only the repo's creator may list or change its roles; anyone else, and any REPO failing the
canonical name check, gets gitolite's ``repo does not exist, or you are not authorised``.
A ROLE must be one the rules use for this repo. gl-perms keeps gitolite's format (sorted
``ROLE user`` lines), edited under a lock and replaced atomically. After a change,
POST_CREATE fires with ``repo user perms`` (the gitweb/daemon updaters see new readers).
Hot: ``perms -l`` is a common ssh call.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.errors import Fatal
from gitolite_triggers.names import is_user_name
from gitolite_triggers.shell.cmdlib import GENERIC_ERROR, Quit, allowed, need_user, owns, valid_repo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\
perms -- list or set permissions for a user-created ("wild") repo.

Usage summary:
    ssh git@host perms <repo> -l
        # list current permissions on repo
    ssh git@host perms <repo> -lr
        # list available roles and their access rights

    ssh git@host perms <repo> + <rolename> <username>
        # change permissions: add a user to a role
    ssh git@host perms <repo> - <rolename> <username>
        # change permissions: remove a user from a role

    ssh git@host perms -c <repo> ...
        # create the repo first if it does not exist yet

Examples:
    ssh git@host perms my/repo + READERS alice
    ssh git@host perms my/repo + WRITERS bob
"""
SYNTAX = "Invalid syntax.  Please re-run with '-h' for detailed usage"
MAX_BATCH = 65536


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if len(args) < 2 or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 1
    user = need_user(user)
    if args[1] == "-l":
        if not owns(rc, args[0], user):
            raise Fatal(GENERIC_ERROR)
        sys.stdout.write("".join(_read_lines(_pf(rc, args[0]))))
        return 0
    if args[0] == "-c":
        args = args[1:]
        _create_if_missing(rc, valid_repo(args[0]), user)
    repo, ops = args[0], args[1:]
    if ops == ["-lr"]:
        sys.stdout.write(role_table(rc, repo))
        return 0
    if not owns(rc, repo, user):
        raise Fatal(GENERIC_ERROR)
    if not ops:
        _replace_from_stdin(rc, repo)
    elif not _change(rc, repo, ops):
        return 0  # a no-op (already present / not present): a warning, no trigger
    from gitolite_triggers.runner import Options, fire

    # gitolite fires POST_CREATE with a third arg 'perms' ("permissions changed") so the
    # gitweb/daemon list updaters pick up the new readers.
    return fire(rc, "POST_CREATE", repo, user, "perms", opts=Options(stdout_to_stderr=True))


def _pf(rc: Rc, repo: str) -> str:
    return os.path.join(rc.repo_base, f"{repo}.git", "gl-perms")


def _create_if_missing(rc: Rc, repo: str, user: str) -> None:
    """``perms -c``: create the wild repo as a push would (``create repo user perms-c``)."""
    from gitolite_triggers.shell.cmdlib import repo_dir

    if repo_dir(rc, repo) is not None:
        return
    if not allowed(rc, repo, user, "^C"):
        raise Fatal(GENERIC_ERROR)
    from gitolite_triggers import glog
    from gitolite_triggers.runner import Options
    from gitolite_triggers.shell.create import create_wild_repo

    status, created = create_wild_repo(rc, repo, user, Options(stdout_to_stderr=True))
    if created:
        glog.log(rc, "create", repo, user, "perms-c")
    if status:
        raise Fatal(f"POST_CREATE failed for '{repo}' (exit {status})", status)


def roles_for(rc: Rc, repo: str) -> list[tuple[int, str, str, str]]:
    """(seq, perm, refex, ROLE) of every rule the conf gives a role for this repo."""
    from gitolite_triggers.conf.check import Checker
    from gitolite_triggers.conf.errors import AccessError
    from gitolite_triggers.conf.store import snapshot, store_path

    roles = set(rc.get("ROLES") or ())
    ch = Checker(snapshot(store_path(rc)), rc.repo_base, rc.admin_base, rc.get("ROLES"))
    out: list[tuple[int, str, str, str]] = []
    try:
        keys = ch.repo_memberships(repo)
    except AccessError:
        return []
    for key in keys:
        payload = ch.payload(key)
        if not payload:
            continue
        for who, rules in payload[0].items():
            if who.startswith("@") and who[1:] in roles:
                out.extend((seq, perm, refex, who[1:]) for seq, perm, refex in rules)
    return sorted(out)


def role_table(rc: Rc, repo: str) -> str:
    """gitolite's ``-lr`` table: perm, ref (``--any--`` for all refs), role, by rule order."""
    rows = []
    for _, perm, refex, role in roles_for(rc, repo):
        ref = "--any--" if refex == "refs/.*" else refex.removeprefix("refs/heads/")
        rows.append((perm, ref, role))
    w = max((len(r) for _, r, _ in rows), default=0)
    text = f"\tperm\t{'ref':<{w}}\t \trole\n\t----\t{'---':<{w}}\t \t----\n"
    return text + "".join(f"\t{p}\t{r:<{w}}\t=\t{role}\n" for p, r, role in rows)


def _invalid_role(rc: Rc, repo: str, role: str) -> Quit:
    """gitolite's answer: the message and the role table on stderr, exit 1 (no FATAL line)."""
    return Quit(
        f"Invalid role '{role}'; valid roles for this repo:\n" + role_table(rc, repo).rstrip("\n")
    )


def _read_lines(pf: str) -> list[str]:
    try:
        with open(pf, encoding="utf-8") as f:
            return [line if line.endswith("\n") else line + "\n" for line in f]
    except FileNotFoundError:
        return []


def _write(pf: str, lines: list[str]) -> None:
    from gitolite_triggers.atomicfile import AS_OPEN, write_atomic

    write_atomic(pf, "".join(lines).encode("utf-8"), AS_OPEN, fsync=False)


def _replace_from_stdin(rc: Rc, repo: str) -> None:
    """gitolite's batch mode: gl-perms becomes stdin's lines (``cancel`` aborts)."""
    print("'batch' mode started, waiting for input (run with '-h' for details).", file=sys.stderr)
    print("Please enter 'cancel' to abort if you did not intend to do this.", file=sys.stderr)
    roles = set(rc.get("ROLES") or ())
    text = sys.stdin.read(MAX_BATCH + 1)
    if len(text) > MAX_BATCH:
        raise Fatal(f"too much input (more than {MAX_BATCH} bytes)")
    lines = []
    for line in text.splitlines(keepends=True):
        words = line.split()
        if words and words[0].lower() == "cancel" and len(words) == 1:
            raise Fatal("CANCELLED")
        if words and words[0] not in roles:
            raise _invalid_role(rc, repo, words[0])
        if len(words) > 1 and not all(is_user_name(w) for w in words[1:]):
            raise Fatal(f"Invalid user in '{line.strip()}'")
        lines.append(line if line.endswith("\n") else line + "\n")
    _write(_pf(rc, repo), lines)


def _change(rc: Rc, repo: str, ops: list[str]) -> bool:
    """``+ ROLE USER`` / ``- ROLE USER``; False when nothing changed (gitolite's warnings)."""
    if len(ops) != 3 or ops[0] not in ("+", "-"):
        raise Fatal(SYNTAX)
    op, role, who = ops
    if not is_user_name(who):
        raise Fatal(f"Invalid user '{who}'")
    if op == "+" and role not in {r for _, _, _, r in roles_for(rc, repo)}:
        raise _invalid_role(rc, repo, role)
    line = f"{role} {who}\n"
    pf = _pf(rc, repo)
    import fcntl

    with open(pf + ".lock", "w") as lock:  # one writer at a time, then an atomic rename
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = _read_lines(pf)
        present = line in lines
        if op == "-":
            if not present:
                print(f"WARNING: '{role} {who}' was not present in file", file=sys.stderr)
                return False
            lines = [x for x in lines if x != line]
        else:
            if present:
                print(f"WARNING: '{role} {who}' already present in file", file=sys.stderr)
                return False
            lines = sorted([*lines, line])
        _write(pf, lines)
    from gitolite_triggers import glog

    glog.log(rc, "perms", repo, os.environ.get("GL_USER", ""), op, role, who)
    return True
