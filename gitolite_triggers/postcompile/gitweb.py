"""``post-compile/update-gitweb-access-list``: the projects list gitweb (and cgit) read.

The file is ``GITWEB_PROJECTS_LIST`` (default ``~/projects.list``): one ``<repo>.git``
line, sorted, for every repo that user ``gitweb`` can read, or that has a non-empty
``gitweb.*`` config line in the rules (a ``desc``/``owner`` line makes a repo visible,
as in gitolite). Description and owner themselves reach gitweb through the repo's git
config (``update-git-configs`` writes gitweb.description/owner), not this file.

Under POST_CREATE only the new repo's line is added or removed. The file is replaced
atomically (mode kept), and only when its content changes.
"""

from __future__ import annotations

from pathlib import Path

from gitolite_triggers.atomicfile import write_atomic
from gitolite_triggers.postcompile.common import guarded, parse_call
from gitolite_triggers.rc import Rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.postcompile.plan import Plan

PROG = "update-gitweb-access-list"
GITWEB_USER = "gitweb"


def visible(rc: Rc, repos: list[str]) -> set[str]:
    """The repos gitweb may show: readable by ``gitweb``, or with gitweb.* config."""
    from gitolite_triggers.conf.query import configs_for, readable

    shown = set(readable(rc, GITWEB_USER, repos))
    for repo in repos:
        if repo not in shown and any(
            k.lower().startswith("gitweb.") and v != "" for k, v in configs_for(rc, repo).items()
        ):
            shown.add(repo)
    return shown


def render(repos: set[str]) -> bytes:
    return "".join(f"{r}.git\n" for r in sorted(repos)).encode("utf-8")


def read_list(path: Path) -> set[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return set()
    return {ln.split()[0].removesuffix(".git") for ln in lines if ln.strip()}


def main(argv: list[str]) -> int:
    return guarded(PROG, _main, argv)


def _main(argv: list[str]) -> int:
    from gitolite_triggers.rc import load_rc
    from gitolite_triggers.repos import physical_repos

    call = parse_call(argv)
    rc = load_rc()
    target = Path(rc.get("GITWEB_PROJECTS_LIST"))
    if call.only_repo:
        repo = call.only_repo
        names = read_list(target)
        names.discard(repo)
        names |= visible(rc, [repo])
    else:
        names = visible(rc, physical_repos(rc))
    _write(target, render(names), None)
    return 0


def _write(target: Path, data: bytes, plan: Plan | None) -> None:
    try:
        if target.read_bytes() == data:
            return
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
    if plan is None:
        write_atomic(target, data)
    else:
        plan.put(target, data)


def stage(rc: Rc, plan: Plan, new_repos: list[str], staged_base: str) -> None:
    """An admin push's step: the list for every repo, the new ones (in ``staged_base``) too."""
    from gitolite_triggers.postcompile.common import on_base
    from gitolite_triggers.repos import physical_repos

    names = visible(rc, [r for r in physical_repos(rc) if r not in set(new_repos)])
    names |= visible(on_base(rc, staged_base), new_repos)
    _write(Path(rc.get("GITWEB_PROJECTS_LIST")), render(names), plan)
