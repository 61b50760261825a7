"""Repo-specific hooks: ``option hook.<hook> = name1 name2`` runs site programs.

gitolite's ``repo-specific-hooks`` feature, read at push time instead of symlinked at
compile time: the repo hook (``hooks/entry.py``), after its own work, asks the compiled
rules for the repo's ``hook.<hook>`` and ``hook.<hook>.<suffix>`` options (keys in sorted
order, so ``hook.post-receive`` comes before ``hook.post-receive.extra``; the words of
each value in order) and runs ``LOCAL_CODE/hooks/repo-specific/<name>`` for each, with
git's arguments and git's whole stdin, in the repo, with the trigger environment. A new
compile changes what runs on the very next push.

Only ``pre-receive``, ``post-receive`` and ``post-update`` (never the admin repo's
post-update). In pre-receive the first program that fails rejects the push, and so does
a named program that is missing, not executable, or outside LOCAL_CODE (fail closed;
gitolite skips it with a warning at compile time); in post-receive and post-update every
program runs and a failure is only reported. The feature is on when the folder
``LOCAL_CODE/hooks/repo-specific`` exists (``enabled``); then every repo gets
pre-receive and post-update links (repos.wanted_hooks).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

HOOKS = ("pre-receive", "post-receive", "post-update")
FOLDER = "hooks/repo-specific"


def enabled(rc: Rc) -> bool:
    """Is the feature on: does ``LOCAL_CODE/hooks/repo-specific`` exist? (one stat)"""
    local = rc.local_code
    return local is not None and os.path.isdir(os.path.join(local, FOLDER))


def names_for(rc: Rc, repo: str, hook: str) -> list[str]:
    """The program names the repo's options give ``hook``, in gitolite's order."""
    from gitolite_triggers.conf.query import options_for

    opts = options_for(rc, repo)
    key = "hook." + hook
    keys = sorted(k for k in opts if k == key or k.startswith(key + "."))
    return [name for k in keys for name in opts[k].split()]


def run(
    rc: Rc, hook: str, repo: str | None, user: str | None, argv: list[str], stdin: bytes
) -> int:
    """Run the repo's programs for ``hook``; the status a pre-receive must return."""
    from gitolite_triggers.repos import ADMIN_REPO

    if hook not in HOOKS or repo is None or not enabled(rc):
        return 0
    if hook == "post-update" and repo == ADMIN_REPO:
        return 0
    names = names_for(rc, repo, hook)
    if not names:
        return 0
    from gitolite_triggers import glog, localcode
    from gitolite_triggers.runner import TimedOut, run_site_program, trigger_env

    env = trigger_env(rc, repo=repo, user=user)
    failed = 0
    for name in names:
        program = localcode.find(rc.local_code, FOLDER, name)
        if program is None:
            why = (
                localcode.name_problem(name)
                or "is missing, not executable or not inside LOCAL_CODE"
            )
            print(f"FATAL: repo-specific {hook} hook '{name}' {why}", file=sys.stderr)
            glog.log(rc, "warn", f"repo-specific {hook} hook for {repo}: '{name}' {why}")
            failed = failed or 1
            if hook == "pre-receive":
                return failed
            continue
        try:  # argv list, no shell, own process group, the hook's timeout
            status, _ = run_site_program(
                [program, *argv],
                env,
                rc.timeout_for(hook, {}),
                stdin_data=stdin if hook != "post-update" else b"",
            )
        except TimedOut as e:
            print(f"FATAL: repo-specific {hook} hook '{name}' {e}", file=sys.stderr)
            status = 124
        if status:
            glog.log(rc, "warn", f"repo-specific {hook} hook '{name}' for {repo}: exit {status}")
            if hook == "pre-receive":
                return status
            failed = failed or status
    return failed if hook == "pre-receive" else 0
