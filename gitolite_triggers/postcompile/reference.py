"""``create-with-reference``: ``option reference.repo* = OTHER`` gives a repo git alternates.

gitolite's feature of that name (ENABLE'd in its rc; ``rc import`` lists ours under
POST_COMPILE and POST_CREATE): a repo whose rules set ``option reference.repo = source``
(or ``reference.repo-1``, ``reference.repo-2``, ... for several) gets
``objects/info/alternates`` naming ``<GL_REPO_BASE>/source.git/objects``, so a fork of a
big repo shares its objects instead of copying them.

Fail-safe choices (docs/conf.md, "Differences from gitolite"):

- lines are only ever **added**: an alternates line a repo already has is kept even when
  the option is gone, since objects fetched meanwhile may live only in the other repo and
  dropping the line would corrupt the repo;
- a value must be a valid repo name (names.repo_name_problem) that exists on disk and is
  not the repo itself; anything else is a warning naming the option, and is skipped;
- the file is read without following a symlink and replaced atomically.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.postcompile.common import guarded, parse_call

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

PROG = "post-compile/create-with-reference"
LIMIT = 64 * 1024  # an alternates file holds a few paths


def main(argv: list[str]) -> int:
    return guarded(PROG, _main, argv)


def wanted(options: dict[str, str]) -> list[str]:
    """The repos a repo's ``reference.repo*`` options name, in key order, each once."""
    out: dict[str, None] = {}
    for key in sorted(options):
        if key == "reference.repo" or key.startswith("reference.repo-"):
            for name in options[key].split():
                out[name] = None
    return list(out)


def _current(objects: str) -> list[str]:
    from gitolite_triggers.safefile import read_inside

    try:
        data, _ = read_inside(objects, "info/alternates", LIMIT)
    except FileNotFoundError:
        return []
    if len(data) > LIMIT:
        raise OSError(f"{objects}/info/alternates is larger than {LIMIT} bytes")
    return [line for line in data.decode("utf-8", "surrogateescape").split("\n") if line]


def update(rc: Rc, repo: str, options: dict[str, str]) -> bool:
    """Add the alternates ``options`` ask for to ``repo``; True when the file changed."""
    from gitolite_triggers.atomicfile import write_atomic
    from gitolite_triggers.names import repo_name_problem

    lines = []
    for other in wanted(options):
        problem = repo_name_problem(other)
        path = f"{rc.repo_base}/{other}.git/objects"
        if problem or other == repo or not os.path.isdir(path) or os.path.islink(path):
            why = problem or ("is the repo itself" if other == repo else "is not a repo here")
            print(f"WARNING: {PROG}: {repo}: reference '{other}' {why}; skipped", file=sys.stderr)
            continue
        lines.append(path)
    if not lines:
        return False
    objects = f"{rc.repo_base}/{repo}.git/objects"
    have = _current(objects)
    new = have + [line for line in lines if line not in have]
    if new == have:
        return False
    os.makedirs(f"{objects}/info", exist_ok=True)
    write_atomic(f"{objects}/info/alternates", "".join(x + "\n" for x in new).encode())
    return True


def _main(argv: list[str]) -> int:
    from gitolite_triggers.conf.query import options_for
    from gitolite_triggers.errors import Fatal
    from gitolite_triggers.names import repo_name_problem
    from gitolite_triggers.rc import load_rc

    rc = load_rc()
    call = parse_call(argv)
    if call.only_repo and repo_name_problem(call.only_repo):
        raise Fatal(f"bad repo name {call.only_repo!r}")
    for repo in call.repos(rc):
        if not os.path.isdir(f"{rc.repo_base}/{repo}.git"):
            continue
        options = options_for(rc, repo)
        if any(k.startswith("reference.repo") for k in options):
            update(rc, repo, options)
    return 0
