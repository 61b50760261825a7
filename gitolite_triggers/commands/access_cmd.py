"""``gitolite-triggers access [-q] REPO USER [PERM [REF]]`` and ``access --batch``.

The single form is ``gitolite access``: PERM defaults to ``+`` and is one of
R W + C D M ^C; REF defaults to ``any`` and gets ``refs/heads/`` unless it starts with
``refs/``; C/D/M are downgraded to W/+/W where the repo's rules do not use them. It prints
the result and exits 0 (allowed) or 1 (denied); bad input is ``FATAL: ...`` on stderr,
exit 2 (gitolite dies with an unspecified status). REPO is held to the canonical name check
(``names.repo_name_problem``: ``hr//payroll`` is bad input, not another repo); a pattern
or ``@group`` is taken as gitolite takes it.

``--batch`` reads ``REPO USER [PERM [REF]]`` lines from stdin and writes, per line and in
order, ``0`` or ``1`` (the single form's exit), a tab and the result; a malformed line
gets ``2``, a tab and the error. Output is flushed per line, so a caller can use it as a
co-process. Each line is answered as the single form answers with ``GL_USER`` set to the
line's USER: for a repo that does not exist yet, that user is the would-be creator (what
``CREATOR`` in a wild-repo rule stands for).
"""

from __future__ import annotations

import sys

from gitolite_triggers.cliargs import Option, Parser
from gitolite_triggers.conf.check import Checker
from gitolite_triggers.conf.errors import AccessError, StoreError
from gitolite_triggers.errors import Fatal
from gitolite_triggers.names import is_ref
from gitolite_triggers.rc import Rc, load_rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PERMS = ("R", "W", "+", "C", "D", "M", "^C")


def check_one(ch: Checker, repo: str, user: str, perm: str = "", ref: str = "") -> str:
    """One query with ``gitolite access``'s defaults and downgrades; AccessError on bad input."""
    perm = perm or "+"
    ref = ref or "any"
    if ref != "any" and not ref.startswith(("refs/", "VREF/")):
        ref = "refs/heads/" + ref
    if perm not in PERMS:
        raise AccessError(f"invalid perm '{perm}' (one of {' '.join(PERMS)})")
    if not is_ref(ref):
        raise AccessError(f"invalid ref name '{ref}'")
    result = ch.access(repo, user, ch.adjust_perm(repo, perm), ref)
    if ref.startswith("VREF/"):  # gitolite: a VREF that falls through is allowed
        result = result.replace("DENIED by fallthru", "allowed by fallthru")
    return result


PARSER = Parser(
    "gitolite-triggers access",
    "Check access as gitolite's `access` does: print the result, exit 0 (allowed) or 1\n"
    "(denied); bad input is FATAL on stderr, exit 2.",
    options=(
        Option("-q", help="print nothing; the exit status is the answer"),
        Option(
            "--batch",
            help="read 'REPO USER [PERM [REF]]' lines from stdin; write per line"
            " 0/1/2, a tab and the result",
        ),
    ),
    arguments=(
        ("REPO", "a repo name (or a pattern or @group, as gitolite takes it)"),
        ("USER", "a user name"),
        ("PERM", f"one of {' '.join(PERMS)} (default +)"),
        ("REF", "a ref; refs/heads/ is added unless it starts with refs/ (default any)"),
    ),
    arguments_usage="REPO USER [PERM [REF]]",
)


def main(argv: list[str]) -> int:
    opts, args = PARSER.parse(argv)
    quiet, batch = bool(opts["q"]), bool(opts["batch"])
    if batch and (args or quiet):
        PARSER.error("--batch takes no arguments and no -q")
    if not batch and not 2 <= len(args) <= 4:
        PARSER.error(f"expected REPO USER [PERM [REF]], got {len(args)} argument(s)")
    rc = load_rc()
    from gitolite_triggers.conf.query import _checker

    if batch:
        return _batch(rc, _checker)
    try:
        result = check_one(_checker(rc), *args)
    except (AccessError, StoreError) as e:
        raise Fatal(str(e), 2) from e
    if not quiet:
        print(result)
    return 1 if "DENIED" in result else 0


def _batch(rc: Rc, make_checker: Callable[[Rc], Checker]) -> int:
    import os

    out = sys.stdout
    given = os.environ.get("GL_USER")
    try:
        for line in sys.stdin:
            words = line.split()
            if not 2 <= len(words) <= 4:
                out.write(f"2\texpected 'REPO USER PERM REF', got {len(words)} field(s)\n")
            else:
                os.environ["GL_USER"] = words[1]  # the would-be creator of a missing repo
                try:
                    result = check_one(make_checker(rc), *words)
                except (AccessError, StoreError) as e:
                    out.write(f"2\t{e}\n")
                else:
                    out.write(f"{1 if 'DENIED' in result else 0}\t{result}\n")
            out.flush()
    finally:
        if given is None:
            os.environ.pop("GL_USER", None)
        else:
            os.environ["GL_USER"] = given
    return 0
