"""``post-compile/update-git-configs``: put each repo's ``config`` lines into its git config.

For every physical repo (only the new repo under POST_CREATE), the rules' ``config
key = value`` lines (``configs_for``, which includes gitweb.description/owner from
``desc``/``owner`` lines) are compared with the repo's ``config`` file, read in Python;
``git config --file`` runs only for the keys that differ. A non-empty value is set;
an empty value unsets the key if it is there. As in gitolite, a line merely deleted
from the conf leaves the key in place: only an explicit ``""`` removes it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gitolite_triggers.postcompile import gitconfig_file
from gitolite_triggers.postcompile.common import guarded, parse_call, warn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.postcompile.plan import Plan
    from gitolite_triggers.rc import Rc

PROG = "update-git-configs"


def changes(wanted: dict[str, str], current: dict[str, str]) -> list[list[str]]:
    """The ``git config`` argument lists that turn ``current`` into ``wanted``."""
    todo: list[list[str]] = []
    for key, value in wanted.items():
        have = current.get(gitconfig_file.normalize(key))
        if value == "":
            if have is not None:
                todo.append(["--unset-all", key])
        elif have != value:
            todo.append([key, value])
    return todo


def update_repo(path: str, wanted: dict[str, str], plan: Plan | None = None) -> int:
    """Apply one repo's configs; return the number of failed ``git config`` runs.

    The changes go to a copy of ``config`` (git config --file), which replaces it by a
    rename: at once, or when ``plan`` is committed (an admin push). A kill or a full disk
    leaves the old file whole, never a ``config.lock`` that would block the next run.
    """
    if not wanted:
        return 0
    config = Path(path, "config")
    todo = changes(wanted, gitconfig_file.read(config))
    if not todo:
        return 0
    import shutil

    from gitolite_triggers.postcompile.plan import Plan as _Plan
    from gitolite_triggers.postcompile.plan import ident

    staged = plan if plan is not None else _Plan()
    _sweep(path)
    seen = ident(str(config))
    tmp = staged.temp_for(str(config))
    if seen is not None:
        shutil.copyfile(config, tmp)
    else:
        open(tmp, "wb").close()
    failed = 0
    for args in todo:
        proc = subprocess.run(
            ["git", "config", "--file", tmp, *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            failed += 1
            warn(
                PROG,
                f"{path}: git config {args[0]} failed: {proc.stderr.strip() or f'exit {proc.returncode}'}",
            )
    if failed:
        os.unlink(tmp)
        return failed
    if plan is None:
        from gitolite_triggers import faults

        faults.point("configs:staged")
        os.replace(tmp, config)
    else:
        plan.put_temp(tmp, str(config), seen)
    return 0


def _sweep(path: str) -> None:
    """Remove this repo's config copies left by a run that was killed."""
    from gitolite_triggers.postcompile.plan import STAGE_MARK

    for name in os.listdir(path):
        if name.startswith(".config" + STAGE_MARK):
            try:
                os.unlink(os.path.join(path, name))
            except OSError:
                pass


def stage(rc: Rc, plan: Plan, new_repos: list[str], staged_base: str) -> None:
    """An admin push's step: live repos' config changes staged into ``plan``; a new repo's
    config is written in its staged folder (it goes live with the repo)."""
    from gitolite_triggers.conf.query import configs_for
    from gitolite_triggers.errors import Fatal
    from gitolite_triggers.postcompile.common import on_base
    from gitolite_triggers.repos import physical_repos

    new = set(new_repos)
    failed = 0
    for repo in physical_repos(rc):
        if repo not in new:
            failed += update_repo(f"{rc.repo_base}/{repo}.git", configs_for(rc, repo), plan)
    staged_rc = on_base(rc, staged_base)
    for repo in new_repos:
        failed += update_repo(f"{staged_base}/{repo}.git", configs_for(staged_rc, repo))
    if failed:
        raise Fatal(f"{failed} git config change(s) failed (see above)")


def main(argv: list[str]) -> int:
    return guarded(PROG, _main, argv)


def _main(argv: list[str]) -> int:
    from gitolite_triggers.conf.query import configs_for
    from gitolite_triggers.rc import load_rc

    call = parse_call(argv)
    rc = load_rc()
    repos = call.repos(rc)
    base = rc.repo_base
    failed = 0
    for repo in repos:
        path = f"{base}/{repo}.git"  # plain strings: pathlib costs more than the work here
        if os.path.isdir(path):
            failed += update_repo(path, configs_for(rc, repo))
    if failed:
        from gitolite_triggers.errors import Fatal

        raise Fatal(f"{failed} git config change(s) failed (see above)")
    return 0
