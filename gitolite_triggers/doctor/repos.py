"""doctor: every repo's hook links, and its ``gl-perms``.

A repo whose ``update`` hook is not ours is refused for every access (the rules check asks
``repos.update_hook_is_ours``); a missing ``post-receive`` loses push records. Each hook a
repo should have (``repos.wanted_hooks``) must be a link to our central stub, and the stub
must be there. ``gl-perms`` (a wild repo's roles) must be a plain readable file when it
exists, and must exist where ``perms`` once wrote it (its ``gl-perms.lock`` is left
behind): a lost one gives nobody a role, which fails closed, but silently.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from gitolite_triggers.doctor import Problem
from gitolite_triggers.rc import Rc
from gitolite_triggers.repos import (
    common_hooks,
    is_admin_repo,
    physical_repos,
    relink_all_hooks,
    repo_dir,
    wanted_hooks,
)

RELINK = "gitolite-triggers setup --hooks-only"
LISTED = 10  # repos named one by one; beyond that a count


def check(rc: Rc) -> list[Problem]:
    repos = physical_repos(rc)
    return [*hook_problems(rc, repos), *perms_problems(rc, repos)]


def hook_problems(rc: Rc, repos: list[str]) -> list[Problem]:
    common = common_hooks(rc)
    bad: list[str] = []
    for repo in repos:
        path = repo_dir(rc, repo)
        for hook in wanted_hooks(rc, is_admin_repo(rc, path)):
            link = os.path.join(path, "hooks", hook)
            target = os.path.join(common, hook)
            try:
                ok = os.readlink(link) == target and os.path.isfile(target)
            except OSError:
                ok = False
            if not ok:
                why = "missing" if not os.path.lexists(link) else "not our stub (or broken)"
                bad.append(f"{repo} ({hook}: {why})")
                break
    if not bad:
        return []
    shown = ", ".join(bad[:LISTED]) + (
        f" and {len(bad) - LISTED} more" if len(bad) > LISTED else ""
    )
    return [
        Problem(
            f"{len(bad)} repo(s) with a missing or broken hook link: {shown}; pushes to them "
            "are refused or lose their records",
            RELINK,
            lambda: _relink(rc),
        )
    ]


def perms_problems(rc: Rc, repos: list[str]) -> list[Problem]:
    out = []
    for repo in repos:
        pf = os.path.join(repo_dir(rc, repo), "gl-perms")
        try:
            st = os.lstat(pf)
        except FileNotFoundError:
            if os.path.exists(pf + ".lock"):
                out.append(
                    Problem(
                        f"{repo}: gl-perms is missing though roles were set with 'perms': "
                        "nobody has a role on it now (fail closed)",
                        f"gitolite-triggers doctor --fix (an empty gl-perms), then the "
                        f"creator sets the roles again: ssh git@host perms {repo} + ROLE USER",
                        _empty_perms(pf),
                    )
                )
            continue
        if not stat.S_ISREG(st.st_mode) or not os.access(pf, os.R_OK):
            out.append(
                Problem(
                    f"{repo}: gl-perms is not a plain readable file: every access to it fails",
                    "gitolite-triggers doctor --fix (moved aside, an empty one written)",
                    _empty_perms(pf),
                )
            )
    return out


def _empty_perms(pf: str) -> Callable[[], None]:
    def repair() -> None:
        import time

        from gitolite_triggers.atomicfile import AS_OPEN, write_atomic

        if os.path.lexists(pf):
            os.rename(pf, f"{pf}.broken.{int(time.time())}")
        write_atomic(pf, b"", AS_OPEN)

    return repair


def _relink(rc: Rc) -> None:
    relink_all_hooks(rc)
