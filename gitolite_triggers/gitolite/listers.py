"""``gitolite list-repos|list-phy-repos|list-users|list-groups|list-memberships|list-members``.

What the compiled rules name, as gitolite lists it: one name per line, sorted.

- ``list-repos``: every repo key with rules (names, patterns, ``@groups``);
- ``list-phy-repos``: the repos that exist under the repo base;
- ``list-users``: every user and user group the rules name (``@CREATOR`` and the roles too);
- ``list-groups``: every group defined in the conf;
- ``list-memberships -u USER``: the groups USER is in; ``-r REPO``: the groups and patterns
  REPO belongs to (as the access check works them out, less ``@all`` and the repo itself);
- ``list-members @GROUP``: the group's members.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from gitolite_triggers.rc import Rc

MEMBERSHIPS_USAGE = """
Usage:  gitolite list-memberships -u|-r <name>

List all groups a name is a member of.  One of the flags '-u' or '-r' is
mandatory, to specify if the name is a user or a repo.

For repos, the output includes any repo patterns that the repo name
matches, as well as any groups that contain those patterns.
"""

MEMBERS_USAGE = """
Usage:  gitolite list-members <group name>

  - list all members of a group
  - takes one group name

'@all' is not expandable in this context.
"""


def _bulk(rc: Rc, key: str) -> Any:
    from gitolite_triggers.conf.store import snapshot, store_path

    return snapshot(store_path(rc)).get(key)


def _print(names: Any) -> int:
    sys.stdout.write("".join(f"{n}\n" for n in names))
    return 0


def main(name: str, argv: list[str]) -> int:
    from gitolite_triggers.rc import load_rc

    if name == "list-memberships":
        if len(argv) != 2 or argv[0] not in ("-u", "-r"):
            sys.stdout.write(MEMBERSHIPS_USAGE)
            return 1
        return _print(memberships(load_rc(), argv[0], argv[1]))
    if name == "list-members":
        if len(argv) != 1 or argv[0] in ("-h", "--help"):
            sys.stdout.write(MEMBERS_USAGE)
            return 1
        return _print(sorted((_bulk(load_rc(), "Lgroups") or {}).get(argv[0], ())))
    rc = load_rc()
    if name == "list-phy-repos":
        from gitolite_triggers.repos import physical_repos

        return _print(sorted(physical_repos(rc)))
    if name == "list-groups":
        return _print(sorted(_bulk(rc, "Lgroups") or {}))
    key = {"list-repos": "Lrule_repos", "list-users": "Lrule_users"}[name]
    return _print(_bulk(rc, key) or [])


def memberships(rc: Rc, flag: str, name: str) -> list[str]:
    from gitolite_triggers.conf.check import Checker
    from gitolite_triggers.conf.store import snapshot, store_path

    ch = Checker(snapshot(store_path(rc)), rc.repo_base, rc.admin_base, rc.get("ROLES"))
    if flag == "-u":
        return sorted(ch.groups_of(name))
    return sorted(m for m in ch.repo_memberships(name) if m not in ("@all", name))
