"""``set-default-roles``: a new wild repo's ``gl-perms`` from ``option default.roles-N``.

gitolite's POST_CREATE program of the same name (enabled the same way: list it under
POST_CREATE in the rc). When a user creates a wild repo (and for gitolite's
``perms -c``, ``create`` and ``fork``, whose POST_CREATE carries that word as its third
argument), the repo's ``default.roles*`` options, in key order, become its ``gl-perms``
lines, with a ``CREATOR`` word made the creator's name: ``option default.roles-1 =
READERS @all`` gives every new repo of that pattern public read access its creator can
later change with ``perms``. No such option writes an empty ``gl-perms``. A plain repo
(POST_CREATE from compile: no user) and a ``perms`` change are left alone.
"""

from __future__ import annotations

from gitolite_triggers.postcompile.common import guarded, parse_call

PROG = "set-default-roles"
CREATING = ("R", "W", "perms-c", "create", "fork")


def main(argv: list[str]) -> int:
    return guarded(PROG, _main, argv)


def perms_text(options: dict[str, str], creator: str) -> str:
    """The gl-perms text for a repo's options (``options_for``) and creator."""
    lines = []
    for key in sorted(k for k in options if k.startswith("default.roles")):
        words = options[key].split(" ")
        for i in range(1, len(words)):  # the first whole word CREATOR after a blank
            if words[i] == "CREATOR":
                words[i] = creator
                break
        lines.append(" ".join(words) + "\n")
    return "".join(lines)


def _main(argv: list[str]) -> int:
    from gitolite_triggers.errors import Fatal
    from gitolite_triggers.names import is_user_name, repo_name_problem

    call = parse_call(argv)
    args = call.args
    if len(args) < 2 or not args[1]:
        return 0  # not a wild repo (compile's POST_CREATE names no user)
    if len(args) >= 3 and args[2] not in CREATING:
        return 0
    repo, user = args[0], args[1]
    problem = repo_name_problem(repo)
    if problem or not is_user_name(user):
        raise Fatal(f"bad repo or user name ({repo!r}, {user!r})")
    from gitolite_triggers.atomicfile import write_atomic
    from gitolite_triggers.conf.query import options_for
    from gitolite_triggers.rc import load_rc

    rc = load_rc()
    text = perms_text(options_for(rc, repo), user)
    write_atomic(f"{rc.repo_base}/{repo}.git/gl-perms", text.encode())
    return 0
