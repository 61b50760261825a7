"""``gitolite access [-q] REPO USER [PERM [REF]]``, with gitolite's ``%`` batch mode.

The single form is ``gitolite-triggers access`` (commands/access_cmd.py: the same check,
defaults and downgrades): the result on stdout, exit 0 allowed, 1 denied; ``-q`` prints
nothing. Bad input is gitolite's ``FATAL: invalid ...`` (exit 1; gitolite's is 25).

Batch mode, as gitolite's POST_COMPILE updaters use it: REPO or USER (or both) given as
``%`` are read from stdin lines (``REPO USER`` when both are ``%``); each answer is
``REPO<TAB>USER<TAB>result`` and the exit status is 0. ``-q`` does not go with it.

``-s`` prints the legend on stderr and the rules the check considered (gitolite/trace.py)
before the result.
"""

from __future__ import annotations

import sys

from gitolite_triggers.errors import Fatal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\

Usage:  gitolite access [-q|-s] <repo> <user> <perm> <ref>

Print access rights for arguments given.  The string printed has the word
DENIED in it if access was denied.  With '-q', returns only an exit code
(shell truth, not perl truth -- 0 is success).  With '-s', the rules that
were considered (file, line, rule) and how each fared, before the result.

  - repo: mandatory
  - user: mandatory
  - perm: defaults to '+'.  Valid values: R, W, +, C, D, M, ^C
  - ref:  defaults to 'any'; 'master' means 'refs/heads/master'

Batch mode: give '%' for the repo or the user (or both) and feed the missing
values on stdin, one query per line; each answer is 'repo<TAB>user<TAB>result'.
"""


def main(name: str, argv: list[str]) -> int:
    from gitolite_triggers.commands.access_cmd import check_one
    from gitolite_triggers.conf.check import Checker
    from gitolite_triggers.conf.errors import AccessError
    from gitolite_triggers.conf.store import snapshot, store_path
    from gitolite_triggers.rc import load_rc

    words = list(argv)
    quiet = show = False
    while words[:1] in (["-q"], ["-s"]):
        if words.pop(0) == "-s":
            show = True
        else:
            quiet = True
    if len(words) < 2 or len(words) > 4 or words[0] == "-h":
        sys.stdout.write(USAGE)
        return 1
    repo, user, perm, ref = (*words, "", "")[:4]
    rc = load_rc()

    def check(r: str, u: str) -> str:
        ch = Checker(snapshot(store_path(rc)), rc.repo_base, rc.admin_base, rc.get("ROLES"))
        try:
            return check_one(ch, r, u, perm, ref)
        except AccessError as e:
            raise Fatal(_gitolite_words(str(e))) from None

    if "%" not in (repo, user):
        result = check(repo, user)
        if show:
            _show(rc, repo, user, perm, ref)
        if not quiet:
            print(result)
        return 1 if "DENIED" in result else 0
    if quiet:
        raise Fatal("'-q' doesn't go with using a pipe")
    if show:
        raise Fatal("'-s' doesn't go with using a pipe")
    for line in sys.stdin:
        got = line.split()
        r = got.pop(0) if repo == "%" and got else repo
        u = got.pop(0) if user == "%" and got else user
        if "%" in (r, u):
            continue  # a line without the names it should hold
        sys.stdout.write(f"{r}\t{u}\t{check(r, u)}\n")
        sys.stdout.flush()
    return 0


def _show(rc: Rc, repo: str, user: str, perm: str, ref: str) -> None:
    """``-s``: the legend on stderr, then the rules considered (gitolite/trace.py)."""
    from gitolite_triggers.conf.check import Checker
    from gitolite_triggers.conf.store import snapshot, store_path
    from gitolite_triggers.gitolite.trace import print_legend, trace

    ref = ref or "any"
    if ref != "any" and not ref.startswith(("refs/", "VREF/")):
        ref = "refs/heads/" + ref
    ch = Checker(snapshot(store_path(rc)), rc.repo_base, rc.admin_base, rc.get("ROLES"))
    print_legend()
    sys.stdout.write(trace(rc, ch, repo, user, perm or "+", ref))


def _gitolite_words(message: str) -> str:
    """gitolite's bad-perm message stops at the word; ours lists the valid ones."""
    return "invalid perm" if message.startswith("invalid perm ") else message
