"""The rules API every other part uses (docs/conf.md).

Each call reads the current compiled store (``$GL_ADMIN_BASE/conf/compiled.rules``):
one ``stat``, and the few index buckets it needs. No PyYAML, jsonschema or requests.
Before the first compile every check is denied and every repo has no options/configs.

A not-yet-created repo's creator is ``$GL_USER`` (as in gitolite), so a check of a
``CREATOR`` pattern for a new repo needs ``GL_USER`` set to the user asking.
"""

from __future__ import annotations

import os

from gitolite_triggers.conf.check import Checker
from gitolite_triggers.conf.errors import AccessError
from gitolite_triggers.conf.store import snapshot, store_path
from gitolite_triggers.rc import Rc

__all__ = [
    "access",
    "access_vrefs",
    "vref_checker",
    "is_denied",
    "options_for",
    "option_raw",
    "env_options",
    "configs_for",
    "conf_repos",
    "wild_patterns",
    "readable",
    "creator",
]

_OPT = "gitolite-options."


def _checker(rc: Rc) -> Checker:
    return Checker(snapshot(store_path(rc)), rc.repo_base, rc.admin_base, rc.get("ROLES"))


def access(rc: Rc, repo: str, user: str, perm: str, ref: str) -> str:
    """gitolite's access(): the matching refex if allowed, else ``<perm> <ref> <repo> <user> DENIED by ...``.

    ``perm`` is the letter the caller computed (R, W, +, C, D, with M appended, or ^C);
    ``ref`` is ``any`` or a full refname. Raises AccessError (gitolite's FATAL) for an
    invalid user, repo or ref.
    """
    return _checker(rc).access(repo, user, perm, ref)


def access_vrefs(rc: Rc, repo: str, user: str, perm: str, ref: str) -> tuple[str, list[str]]:
    """``access`` plus the VREF refexes of the (repo, user) rules, from one snapshot.

    The update hook's one call: when the list is empty (most repos) it never loads the
    VREF machinery.
    """
    ch = _checker(rc)
    result = ch.access(repo, user, perm, ref)
    return result, ch.vrefs(repo, user)


def vref_checker(rc: Rc) -> Checker:
    """A Checker for a push's VREF checks: one snapshot, the rules collected once."""
    return _checker(rc)


def is_denied(result: str) -> bool:
    """The contract: a result containing the word DENIED is a denial."""
    return "DENIED" in result


def options_for(rc: Rc, repo: str) -> dict[str, str]:
    """Every ``option X = Y`` for ``repo`` as {X: Y}; later lines win, "" and "0" mean unset (gitolite)."""
    try:
        got = _checker(rc).git_config(repo, lambda k: k.startswith(_OPT), False)
    except AccessError:
        return {}
    return {k[len(_OPT) :]: v for k, v in got.items()}


def option_raw(rc: Rc, repo: str, name: str) -> str | None:
    """One ``option NAME = value`` as written, "" and "0" included (None when not set).

    ``options_for`` follows gitolite, where "0" means unset; a switch such as
    ``option buildkite.enabled = 0`` needs to see the 0.
    """
    key = _OPT + name
    try:
        got = _checker(rc).git_config(repo, key.__eq__, True)
    except AccessError:
        return None
    return got.get(key)


def env_options(rc: Rc, repo: str) -> dict[str, str]:
    """``option ENV.NAME = v`` lines become ``GL_OPTION_NAME=v`` for trigger programs
    (gitolite's env_options; none before the first compile)."""
    return {
        f"GL_OPTION_{k[4:]}": v for k, v in options_for(rc, repo).items() if k.startswith("ENV.")
    }


def configs_for(rc: Rc, repo: str) -> dict[str, str]:
    """git config key -> value for ``repo`` ("" means unset it), gitweb.* from desc/owner included."""
    try:
        got = _checker(rc).git_config(repo, lambda k: not k.startswith(_OPT), True)
    except AccessError:
        return {}
    return got


def conf_repos(rc: Rc) -> list[str]:
    """Plain repo names the conf names (what compile creates), sorted."""
    return list(snapshot(store_path(rc)).get("Lconf_repos") or [])


def wild_patterns(rc: Rc) -> list[str]:
    """Repo patterns of the conf (wild repos), sorted."""
    return list(snapshot(store_path(rc)).get("Lwild_patterns") or [])


def readable(rc: Rc, user: str, repos: list[str]) -> set[str]:
    """Which of ``repos`` ``user`` can read (R at ``any``); invalid names are not readable."""
    ch = _checker(rc)
    out = set()
    for repo in repos:
        try:
            if "DENIED" not in ch.access(repo, user, "R", "any"):
                out.add(repo)
        except AccessError:
            continue
    return out


def creator(rc: Rc, repo: str) -> str | None:
    """The repo's gl-creator (None for a repo without one, or that does not exist)."""
    from gitolite_triggers.names import repo_name_problem

    if repo_name_problem(repo):
        return None
    path = os.path.join(rc.repo_base, f"{repo}.git", "gl-creator")
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read().removesuffix("\n") or None
    except OSError:
        return None
