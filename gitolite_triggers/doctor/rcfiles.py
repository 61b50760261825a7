"""doctor: the rc cache against its sources, and the last good rc (docs/reliability.md)."""

from __future__ import annotations

from gitolite_triggers import paths
from gitolite_triggers.doctor import Problem
from gitolite_triggers.rc import Rc, fallback_summary, last_good_file, load_rc, read_last_good
from gitolite_triggers.rc.state import DAMAGED, FALLBACK, cache_state

_seen: list[str] = []  # the cache's state as doctor found it, before loading the rc

REBUILD = "gitolite-triggers doctor --fix (or any command: the next one rebuilds it)"


def _rebuild() -> None:
    load_rc(use_cache=False)  # validates, rewrites the cache and the last good rc


def observe() -> None:
    """Note the cache's state now: loading the rc (which doctor must do) rebuilds a damaged
    or stale cache, and the admin should still hear that it was."""
    _seen[:] = [cache_state()]


def check(rc: Rc) -> list[Problem]:
    problems = []
    state = _seen[0] if _seen else cache_state()
    cache = paths.rc_cache_file()
    if rc.fallback is not None or state == FALLBACK:
        problems.append(
            Problem(
                fallback_summary(rc.fallback or {}),
                "gitolite-triggers rc check (then fix the file:line it names)",
            )
        )
    elif state == DAMAGED:
        problems.append(Problem(f"{cache} was damaged (truncated or not ours)", REBUILD, _rebuild))
    # A stale or missing cache is not a problem: it is what an rc edit leaves until the
    # next command (doctor's own load_rc included) rebuilds it.
    doc, why = read_last_good()
    if doc is None:
        text = f"{why} ({last_good_file()}): a bad rc edit would refuse every fetch and push"
        if rc.fallback is None:
            problems.append(Problem(text, REBUILD, _rebuild))
        else:
            problems.append(Problem(text, "gitolite-triggers rc check"))
    return problems
