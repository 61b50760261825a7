"""Run every check of ``doctor`` (the list, in the order they are reported)."""

from __future__ import annotations

from gitolite_triggers.doctor import Check, Problem
from gitolite_triggers.rc import Rc


def checks() -> list[tuple[str, Check]]:
    """Every check, in the order they are reported (imported when doctor runs)."""
    from gitolite_triggers.doctor import admin, disk, keys, rcfiles, repos, spool

    return [
        ("rc", rcfiles.check),
        ("admin repo and rules", admin.check),
        ("authorized_keys", keys.check),
        ("repos", repos.check),
        ("deliveries", spool.check),
        ("disk", disk.check_space),
        ("leftovers", disk.check_leftovers),
    ]


def run_checks(rc: Rc) -> list[tuple[str, list[Problem]]]:
    """(check name, its problems) for every check; a check that fails is a problem."""
    out = []
    for name, check in checks():
        try:
            problems = check(rc)
        except Exception as e:  # a broken check must not hide the others
            problems = [Problem(f"the check itself failed: {type(e).__name__}: {e}", "report this")]
        out.append((name, problems))
    return out
