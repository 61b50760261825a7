"""What ``migrate`` changes in a gitolite v3 home, as a plan of steps (docs/migrate.md).

``plan(home)`` only looks; each ``Step`` says what it will do and does it when run. The
steps, in order: back up what is replaced (the Perl rc, authorized_keys, GL_ADMIN_BASE's
hooks folder, every repo hook that is replaced, as a manifest plus copies); import the rc;
carry LOCAL_CODE's common hooks into the rc's hook lists; move aside a repo's own hook
that sits where ours go; take gitolite's block out of authorized_keys; link our hooks in
every repo and drop gitolite's. ``migrate_cmd`` then compiles and fires POST_COMPILE.

Never touched: the repos' objects and refs, ``gl-perms``, ``gl-creator``, ``description``,
``git-daemon-export-ok``, hooks of other names, ``~/.gitolite/conf`` and ``keydir``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from typing import NamedTuple

from gitolite_triggers.repos import HOOK_NAMES

GITOLITE_BLOCK = ("# gitolite start", "# gitolite end")
PRE_MIGRATE = ".pre-migrate"


class Step(NamedTuple):
    """One change: what it does (printed by --dry-run) and the function that does it."""

    text: str
    run: Callable[[], None]


class Home(NamedTuple):
    """Where a gitolite v3 account keeps things."""

    home: str
    perl_rc: str
    admin_base: str
    repo_base: str
    local_code: str | None

    @property
    def authorized_keys(self) -> str:
        return os.path.join(self.home, ".ssh", "authorized_keys")


def physical_repos(repo_base: str) -> list[str]:
    """Every ``NAME.git`` folder below ``repo_base`` (not looked into), as NAME, sorted."""
    found = []
    for top, dirs, _ in os.walk(repo_base):
        keep = []
        for d in dirs:
            if d.endswith(".git"):
                found.append(os.path.relpath(os.path.join(top, d[:-4]), repo_base))
            elif not d.startswith("."):
                keep.append(d)
        dirs[:] = keep
    return sorted(found)


def is_gitolites(home: Home, hook_path: str) -> bool:
    """A hook gitolite put there: a link into GL_ADMIN_BASE/hooks, LOCAL_CODE's hooks, or
    gitolite's own install (Debian's /usr/share/gitolite3, a source install's src/)."""
    if not os.path.islink(hook_path):
        return False
    target = os.path.realpath(hook_path)
    roots = [os.path.join(home.admin_base, "hooks")]
    if home.local_code:
        roots.append(os.path.join(home.local_code, "hooks"))
    if any(target.startswith(os.path.realpath(r) + os.sep) for r in roots):
        return True
    return "gitolite" in os.readlink(hook_path) and "gitolite-triggers" not in target


def classify_hooks(home: Home, repos: list[str]) -> tuple[list[dict[str, str]], list[str]]:
    """Every hook of our four names in every repo: (manifest rows, site hooks to move aside).

    A row: repo, hook, kind (``link``/``file``), target (a link's target). A repo's own
    hook where ours go (not gitolite's) is moved aside, so it is named in the second list.
    """
    rows: list[dict[str, str]] = []
    site: list[str] = []
    for repo in repos:
        hooks = os.path.join(home.repo_base, f"{repo}.git", "hooks")
        for name in HOOK_NAMES:
            path = os.path.join(hooks, name)
            if not os.path.lexists(path):
                continue
            link = os.path.islink(path)
            rows.append(
                {
                    "repo": repo,
                    "hook": name,
                    "kind": "link" if link else "file",
                    "target": os.readlink(path) if link else "",
                }
            )
            if not is_gitolites(home, path):
                site.append(f"{repo}.git/hooks/{name}")
    return rows, site


def common_site_hooks(home: Home) -> list[str]:
    """LOCAL_CODE/hooks/common/{pre-receive,post-receive,post-update}: gitolite linked them
    into every repo; here they become entries of the rc's ``hooks:`` lists."""
    if not home.local_code:
        return []
    folder = os.path.join(home.local_code, "hooks", "common")
    return [
        name
        for name in ("pre-receive", "post-receive", "post-update")
        if os.path.isfile(os.path.join(folder, name))
        and os.access(os.path.join(folder, name), os.X_OK)
    ]


def strip_gitolite_block(text: str) -> tuple[str, int]:
    """authorized_keys without gitolite's block; (new text, lines removed)."""
    out, inside, removed = [], False, 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == GITOLITE_BLOCK[0]:
            inside = True
        if inside:
            removed += 1
            if stripped == GITOLITE_BLOCK[1]:
                inside = False
            continue
        out.append(line)
    return "".join(out), removed


def backup_steps(home: Home, backup: str, rows: list[dict[str, str]]) -> list[Step]:
    """Copy what migrate replaces into ``backup`` (a new folder, 0700)."""

    def make() -> None:
        os.makedirs(backup, mode=0o700)
        for src, name in (
            (home.perl_rc, "gitolite.rc"),
            (home.authorized_keys, "authorized_keys"),
            (os.path.join(home.home, ".gitolite.rc.yaml"), "gitolite.rc.yaml"),
        ):
            if os.path.isfile(src):
                shutil.copy2(src, os.path.join(backup, name))
        hooks = os.path.join(home.admin_base, "hooks")
        if os.path.isdir(hooks):
            shutil.copytree(hooks, os.path.join(backup, "admin-hooks"), symlinks=True)
        for row in rows:
            if row["kind"] == "file":
                src = os.path.join(home.repo_base, f"{row['repo']}.git", "hooks", row["hook"])
                dst = os.path.join(backup, "repo-hooks", row["repo"], row["hook"])
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy2(src, dst)
        with open(os.path.join(backup, "hooks.json"), "w") as f:
            json.dump(rows, f, indent=1)
        with open(os.path.join(backup, "home.json"), "w") as f:
            json.dump(home._asdict(), f, indent=1)

    return [
        Step(
            f"back up the rc, authorized_keys, {home.admin_base}/hooks and {len(rows)} repo hooks to {backup}",
            make,
        )
    ]


def default_backup(home: str) -> str:
    return os.path.join(home, ".gitolite-migrate", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
