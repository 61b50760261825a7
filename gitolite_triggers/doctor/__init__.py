"""``gitolite-triggers doctor``: every check an admin wants when something looks wrong.

Each check is a function ``check(rc) -> list[Problem]`` in a module of its own kind (the
admin repo and the rules, keys, repos, the rc files, the disk, Buildkite deliveries),
listed in ``doctor/run.py``: a new check is one function and one line there. A Problem says what
is wrong, the command that fixes it, and (when the fix is safe to run unattended) the
function ``doctor --fix`` calls. Checks only read; a check that itself fails is reported
as a problem, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable

from gitolite_triggers.rc import Rc


class Problem:
    """One thing wrong: ``what`` (for the admin), ``fix`` (the command that repairs it),
    ``repair`` (what ``--fix`` runs; None when it needs a person)."""

    __slots__ = ("what", "fix", "repair")

    def __init__(self, what: str, fix: str, repair: Callable[[], None] | None = None) -> None:
        self.what = what
        self.fix = fix
        self.repair = repair


Check = Callable[[Rc], list[Problem]]
