"""Run a ref update's VREFs, as gitolite's update hook does after the normal check.

For each distinct ``VREF/...`` refex of the (repo, user) rules, in rule order:

- ``VREF/NAME/...`` (once, however many NAME rules there are): every path the update
  changes (``git diff --name-only -z --no-renames OLDTREE NEWTREE``, one call) is checked
  as the ref ``VREF/NAME/<path>``;
- ``VREF/<prog>/<a>/<b>...``: the helper ``LOCAL_CODE/VREF/<prog>`` (a safe executable,
  see localcode.py), else a built-in of builtins.py, else the push fails with gitolite's
  "helper program missing or unexecutable". A program gets gitolite's argv: ``REF OLD
  NEW OLDTREE NEWTREE AA VREF a b ...``; each output line starting ``VREF/`` is a virtual
  ref to check (the rest of the line is the deny message), other lines are shown to the
  pusher; a non-zero exit fails the push.

Checking a virtual ref is ``access(repo, user, AA, ref)``: "DENIED by fallthru" means
allowed (no rule mentions it); any other answer fires ACCESS_CHECK and ACCESS_2 (five
arguments, as gitolite's VREF call), and a denial fails the push with the answer and the
message. Paths come from commits, so they are untrusted: read with ``-z`` (a newline
in a name cannot forge a second path), never shown raw (denials show gitolite's
``safe_ref`` form), and the diff is bounded (MAX_DIFF_BYTES).
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.conf.errors import AccessError
from gitolite_triggers.errors import Fatal
from gitolite_triggers.vref.gitio import Push, git_output

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.conf.check import Checker
    from gitolite_triggers.rc import Rc

MAX_DIFF_BYTES = 64 << 20  # a push naming more than this in paths is refused, not checked
MAX_HELPER_OUTPUT = 4 << 20
TOO_BIG = (
    "this push changes too many files to check against the repo's VREF/NAME rules "
    "(more than {n} bytes of file names); push it in smaller parts"
)


def changed_paths(push: Push) -> list[str]:
    """Every path the update adds, changes or removes (a rename is both of its paths)."""
    out = git_output(
        [
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            push.oldtree,
            push.newtree,
            "--",
        ],
        MAX_DIFF_BYTES,
        TOO_BIG.format(n=MAX_DIFF_BYTES),
    )
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


class VrefRun:
    """The VREF checks of one ref update, over one rules snapshot."""

    def __init__(self, rc: Rc, ch: Checker, repo: str, user: str, push: Push) -> None:
        self.rc, self.ch, self.repo, self.user, self.push = rc, ch, repo, user, push

    def check(self, vref_ref: str, message: str = "") -> None:
        """One virtual ref: fallthru allows; anything else fires the triggers, a denial fails."""
        try:
            result = self.ch.access(self.repo, self.user, self.push.aa, vref_ref)
        except AccessError as e:
            raise Fatal(str(e), log=(self.repo, self.user, str(e))) from None
        if "by fallthru" in result:
            return
        from gitolite_triggers.runner import fire

        for name in ("ACCESS_CHECK", "ACCESS_2"):
            status = fire(
                self.rc, name, self.repo, self.user, self.push.aa, vref_ref, result,
                repo=self.repo, user=self.user,
            )  # fmt: skip
            if status:
                raise Fatal(f"{name} trigger rejected {self.push.ref} (exit {status})", status)
        if "DENIED" in result:
            text = result + ("\n" + message.strip() if message.strip() else "")
            raise Fatal(text, log=(self.repo, self.user, result))

    def run_all(self, vrefs: list[str]) -> None:
        name_done = False
        for vref in vrefs:
            if vref.startswith("VREF/NAME/"):
                if not name_done:
                    name_done = True
                    for path in changed_paths(self.push):
                        self.check("VREF/NAME/" + path)
                continue
            self.run_helper(vref)

    def run_helper(self, vref: str) -> None:
        _, prog, *args = vref.split("/")
        from gitolite_triggers import localcode
        from gitolite_triggers.vref import builtins

        found = localcode.find(self.rc.local_code, "VREF", prog)
        if found is not None:
            lines = self.external(found, vref, args)
        elif prog in builtins.BUILTINS:
            lines = builtins.BUILTINS[prog](self.push, vref, args)
        else:
            raise Fatal(f"'{vref}': helper program missing or unexecutable")
        for line in lines:
            if not line.startswith("VREF/"):
                sys.stdout.write(line + "\n")
                continue
            ref, *rest = line.split(None, 1)  # Perl's split ' ', 2
            self.check(ref, rest[0] if rest else "")
        sys.stdout.flush()

    def external(self, program: str, vref: str, args: list[str]) -> list[str]:
        """Run a LOCAL_CODE helper as a trigger program runs (own process group, the
        ``update`` hook's timeout, killed with the session); its stdout, bounded."""
        from gitolite_triggers.runner import TimedOut, run_site_program, trigger_env

        env = trigger_env(self.rc, repo=self.repo, user=self.user)
        try:
            status, data = run_site_program(  # argv list, no shell; stderr goes to the pusher
                [program, *self.push.argv(), vref, *args],
                env,
                self.rc.timeout_for("update", {}),
                capture_limit=MAX_HELPER_OUTPUT,
            )
        except TimedOut as e:
            raise Fatal(f"{vref}: helper program {e}") from None
        if len(data) > MAX_HELPER_OUTPUT:
            raise Fatal(f"{vref}: helper program printed more than {MAX_HELPER_OUTPUT} bytes")
        if status != 0:
            raise Fatal(f"{vref}: helper program exit status {status}")
        return data.decode("utf-8", "surrogateescape").splitlines()


def check_vrefs(
    rc: Rc, repo: str, user: str, ref: str, old: str, new: str, aa: str, vrefs: list[str]
) -> None:
    """Run the update's VREFs (``vrefs`` from ``conf.query.access_vrefs``); raise Fatal to
    refuse the ref."""
    from gitolite_triggers.conf.query import vref_checker

    push = Push(ref, old, new, aa)
    os.environ.setdefault("GL_REPO", repo)
    VrefRun(rc, vref_checker(rc), repo, user, push).run_all(vrefs)
