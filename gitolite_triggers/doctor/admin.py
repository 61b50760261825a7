"""doctor: the rules in force against the admin repo (issue 15's promise, docs/reliability.md).

Three questions: is the compiled rules file whole, is the admin repo's HEAD branch the
commit whose rules are in force (``gl-last-good``, adminpush.LAST_GOOD), and has an admin
push left a drift record (a step that failed after the ref moved: ``DRIFT``, written by
the admin push). Each answer is a small function, so a new record is a new function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from gitolite_triggers.adminpush import LAST_GOOD
from gitolite_triggers.adminstage import (
    DRIFT,
)  # the admin push's record of what did not get applied
from gitolite_triggers.doctor import Problem
from gitolite_triggers.rc import Rc
from gitolite_triggers.repos import ADMIN_REPO, repo_dir

COMPILE = "gitolite-triggers compile"


def compile_now() -> None:
    """``--fix``: compile through the CLI, as an admin would (its own process and locks)."""
    r = subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "compile"], capture_output=True, text=True
    )
    if r.returncode != 0:
        raise RuntimeError((r.stderr or r.stdout).strip() or f"compile exited {r.returncode}")


def check(rc: Rc) -> list[Problem]:
    return [*store_problems(rc), *head_problems(rc), *drift_problems(rc)]


def store_problems(rc: Rc) -> list[Problem]:
    """The compiled rules: present, and readable through a real access check."""
    from gitolite_triggers.conf.errors import StoreError
    from gitolite_triggers.conf.query import access
    from gitolite_triggers.conf.store import store_path

    path = store_path(rc)
    if not os.path.isfile(path):
        return [
            Problem(
                f"the compiled rules {path} are missing: every access is denied",
                COMPILE,
                compile_now,
            )
        ]
    try:
        access(rc, ADMIN_REPO, "doctor-probe", "R", "any")
    except StoreError as e:
        return [
            Problem(
                f"the compiled rules {path} are damaged ({e}): every access is refused",
                COMPILE,
                compile_now,
            )
        ]
    return []


def _git(git_dir: str, *args: str) -> str:
    r = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=False
    )
    return r.stdout.strip() if r.returncode == 0 else ""


def head_problems(rc: Rc) -> list[Problem]:
    """The admin repo's HEAD branch tip against gl-last-good (the commit in force)."""
    git_dir = repo_dir(rc, ADMIN_REPO)
    if not os.path.isdir(git_dir):
        return [Problem(f"the admin repo {git_dir} is missing", "gitolite-triggers setup")]
    tip = _git(git_dir, "rev-parse", "-q", "--verify", "HEAD^{commit}")
    try:
        with open(os.path.join(git_dir, LAST_GOOD), encoding="utf-8") as f:
            good = f.read().strip()
    except FileNotFoundError:
        good = ""
    except OSError as e:
        good = f"unreadable ({e.strerror})"
    if tip and good != tip:
        said = good[:12] or "no record"
        return [
            Problem(
                f"the rules in force are not the admin repo's: HEAD is {tip[:12]}, "
                f"{LAST_GOOD} says {said}",
                COMPILE,
                compile_now,
            )
        ]
    return []


def drift_problems(rc: Rc) -> list[Problem]:
    """A drift record left by an admin push whose later step failed."""
    path = os.path.join(repo_dir(rc, ADMIN_REPO), DRIFT)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        doc = {"problem": "the record is unreadable"}
    step = doc.get("step", "?") if isinstance(doc, dict) else "?"
    problem = doc.get("problem", "") if isinstance(doc, dict) else ""
    return [
        Problem(
            f"an admin push was not fully applied (step {step}): {problem} ({path})",
            COMPILE,
            compile_now,
        )
    ]
