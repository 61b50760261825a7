"""``info [-lc] [-ld] [-json] [-p] [PATTERN]``: what the user can create, read and write.

gitolite's output: the greeting; the conf's wild patterns with the user's R/W/C (unless
``-p``); every existing repo the user can read, with R/W; ``-lc`` adds each repo's
creator, ``-ld`` its description (``gitweb.description`` from the rules, else the
``description`` file); PATTERN (a regex, linear time) keeps the names it matches;
SITE_INFO last. ``-json`` prints the same as one JSON object (gitolite's keys: GL_USER,
USER, gitolite_version, git_version, repos: {name: {perms: {R: 1,...}, creator,
description}}, SITE_INFO). Hot (every ``ssh git@host``): 10,000 repos are listed with one
bulk read check and a W check only for the readable ones.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.errors import Fatal
from gitolite_triggers.shell.cmdlib import greeting, need_user

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from gitolite_triggers.rc import Rc

USAGE = """\
Usage:  ssh git@host info [-lc] [-ld] [-json] [-p] [<repo name pattern>]

List the repos you can create (patterns) and the existing repos you can read,
with your access (R, W, C).

    -lc     also show each repo's creator
    -ld     also show each repo's description
    -json   the same, as JSON
    -p      leave out the patterns (repos you can create)

The pattern is a regex matched against the repo names.
"""

FLAGS = {"lc", "ld", "json", "p", "h", "help"}


def parse(args: list[str]) -> tuple[set[str], str | None]:
    """gitolite's options: ``-lc`` or ``--lc`` anywhere, one optional pattern."""
    flags: set[str] = set()
    words: list[str] = []
    for a in args:
        if a.startswith("-") and a.lstrip("-") in FLAGS:
            flags.add(a.lstrip("-"))
        elif a.startswith("-"):
            raise _Usage
        else:
            words.append(a)
    if len(words) > 1 or flags & {"h", "help"}:
        raise _Usage
    return flags, (words[0] if words else None)


class _Usage(Exception):
    pass


def _perms(rc: Rc, repo: str, user: str, letters: tuple[str, ...], pattern: bool = False) -> str:
    """gitolite's column: `` R W C`` with two spaces for each letter not granted."""
    from gitolite_triggers.shell.cmdlib import allowed

    return "".join(
        f" {aa.lstrip('^')}" if allowed(rc, repo, user, aa, pattern) else "  " for aa in letters
    )


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    from gitolite_triggers.conf.query import readable, wild_patterns
    from gitolite_triggers.repos import physical_repos

    try:
        flags, pattern = parse(args)
    except _Usage:
        sys.stdout.write(USAGE)
        return 1
    user = need_user(user)
    keep = _matcher(pattern)
    rows: list[tuple[str, str]] = []  # (perm column, name) for patterns
    if "p" not in flags:
        for p in wild_patterns(rc):
            if keep(p):
                perm = _perms(rc, p, user, ("R", "W", "^C"), pattern=True)
                if perm.strip():
                    rows.append((perm, p))
    repos: list[tuple[str, str]] = []
    # W implies R in gitolite's rule syntax (R, RW, RW+...), so one bulk read check picks
    # the repos to list and only those get the W check.
    for repo in sorted(readable(rc, user, [r for r in physical_repos(rc) if keep(r)])):
        repos.append((" R" + _perms(rc, repo, user, ("W",)), repo))
    lc, ld = "lc" in flags, "ld" in flags
    if "json" in flags:
        return _json(rc, user, rows + repos, len(rows), lc, ld)
    out = [greeting(user)]
    out.extend(f"{perm}\t{name}\n" for perm, name in rows)
    out.extend(_columns(rc, repos, lc, ld))
    site = rc.get("SITE_INFO")
    if site:
        out.append(f"\n{site}\n")
    sys.stdout.write("".join(out))
    return 0


def _matcher(pattern: str | None) -> Any:
    if pattern is None:
        return lambda name: True
    from gitolite_triggers import linear_re

    try:
        rx = linear_re.compile(pattern)
    except linear_re.RegexError as e:
        raise Fatal(f"bad pattern '{pattern}': {e}") from None
    return lambda name: rx.search(name) is not None


def creator_of(rc: Rc, repo: str) -> str:
    from gitolite_triggers.conf.query import creator

    return creator(rc, repo) or ""


def description_of(rc: Rc, repo: str) -> str:
    """``gitweb.description`` from the rules, else the repo's ``description`` file."""
    from gitolite_triggers.conf.query import configs_for

    desc = configs_for(rc, repo).get("gitweb.description") or ""
    if not desc:
        try:
            with open(
                os.path.join(rc.repo_base, f"{repo}.git", "description"),
                encoding="utf-8",
                errors="replace",
            ) as f:
                desc = f.read(65536).removesuffix("\n")
        except OSError:
            pass
    return desc


def _columns(rc: Rc, repos: list[tuple[str, str]], lc: bool, ld: bool) -> list[str]:
    """gitolite's layout: with -lc/-ld the name is padded to the longest, the creator too
    when both are shown; an empty column collapses and trailing blanks go."""
    table = [
        (perm, repo, creator_of(rc, repo) if lc else "", description_of(rc, repo) if ld else "")
        for perm, repo in repos
    ]
    wide = max((len(r) for _, r, _, _ in table), default=0) if lc or ld else 0
    wide_c = max((len(c) for _, _, c, _ in table), default=0) if lc and ld else 0
    out = []
    for perm, repo, who, desc in table:
        line = f"{perm}\t{repo:<{wide}}\t{who:<{wide_c}}\t{desc}\n".replace("\t\t", "\t", 1)
        out.append(line.rstrip() + "\n")
    return out


def _json(
    rc: Rc, user: str, rows: list[tuple[str, str]], n_patterns: int, lc: bool, ld: bool
) -> int:
    import json

    from gitolite_triggers import __version__
    from gitolite_triggers.shell.cmdlib import git_version

    repos: dict[str, Any] = {}
    for i, (perm, name) in enumerate(rows):
        entry: dict[str, Any] = {"perms": {c: 1 for c in perm.split()}}
        if i >= n_patterns:  # gitolite shows creator/description for existing repos only
            if lc:
                entry["creator"] = creator_of(rc, name)
            if ld:
                entry["description"] = description_of(rc, name)
        repos[name] = entry
    host = os.uname().nodename.split(".")[0]
    doc: dict[str, Any] = {
        "GL_USER": user,
        "USER": f"{os.environ.get('USER') or 'git'}@{host}",
        # scripts test this for gitolite v3 features (gitolite's t/info-json.t: /^v3.[5-9]/)
        "gitolite_version": f"v3.6-compatible (gitolite-triggers {__version__})",
        "git_version": git_version(),
        "repos": repos,
    }
    site = rc.get("SITE_INFO")
    if site:
        doc["SITE_INFO"] = site
    sys.stdout.write(json.dumps(doc, indent=3, separators=(",", " : "), sort_keys=True) + "\n")
    return 0
