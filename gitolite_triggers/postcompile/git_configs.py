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


def update_repo(path: str, wanted: dict[str, str]) -> int:
    """Apply one repo's configs; return the number of failed ``git config`` runs."""
    if not wanted:
        return 0
    config = Path(path, "config")
    failed = 0
    for args in changes(wanted, gitconfig_file.read(config)):
        proc = subprocess.run(
            ["git", "config", "--file", str(config), *args],
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
    return failed


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
