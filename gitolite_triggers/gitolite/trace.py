"""``gitolite access -s``: the rules a check considered and how each fared (gitolite's trace).

One line per rule on stdout, in the order the check tries them, until one decides:
``d`` a deny rule skipped (the ref is ``any`` and the repo has no ``deny-rules``), ``r`` its
refex does not match the ref, ``p`` its permission does not cover the access, ``D`` denied
here, ``A`` allowed here; ``F`` when none decided (denied for a ref, allowed for a VREF).
Each rule line names its conf file and line (the compiled store's rule info) and the rule
as written there. The legend goes to stderr, as gitolite's does.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.conf.check import Checker
    from gitolite_triggers.rc import Rc

LEGEND = """\
legend:
    d => skipped deny rule due to ref unknown or 'any',
    r => skipped due to refex not matching,
    p => skipped due to perm (W, +, etc) not matching,
    D => explicitly denied,
    A => explicitly allowed,
    F => fallthru; access denied for normal refs, allowed for VREFs

"""


def trace(rc: Rc, ch: Checker, repo: str, user: str, perm: str, ref: str) -> str:
    """The trace lines (and the blank line after them) for one query's final rule walk."""
    from gitolite_triggers.conf.check import perl_true, perm_allows, refex_matches

    where = {seq: (f, n) for seq, f, n in ch.snap.get("Lrule_info") or ()}
    deny_rules = perl_true(ch.option(repo, "deny-rules"))
    aa = ch.adjust_perm(repo, perm)
    lines = []
    letter = "F"
    for seq, rule_perm, refex in ch.rules(repo, user):
        refex = refex.replace("/USER/", f"/{user}/", 1)
        if rule_perm == "-" and ref == "any" and not deny_rules:
            letter = "d"
        elif ref != "any" and not refex_matches(refex, ref):
            letter = "r"
        elif rule_perm == "-":
            letter = "D"
        elif perm_allows(aa, rule_perm):
            letter = "A"
        else:
            letter = "p"
        f, n = where.get(seq, ("?", 0))
        shown = f.removeprefix("conf/")  # gitolite names files relative to conf/
        lines.append(f"  {letter}        {shown + ':' + str(n):<24} {_rule_text(rc, shown, n)}\n")
        if letter in "DA":
            break
    else:
        letter = "F"
    if letter == "F":
        lines.append("  F           (fallthru)\n")
    return "".join(lines) + "\n"


_texts: dict[str, list[str]] = {}


def _rule_text(rc: Rc, rel: str, n: int) -> str:
    """Line ``n`` of conf file ``rel`` (inside conf/, read safely), white space squeezed."""
    import os

    from gitolite_triggers.safefile import read_inside

    if rel not in _texts:
        try:
            data, _ = read_inside(os.path.join(rc.admin_base, "conf"), rel, limit=16 << 20)
            _texts[rel] = data.decode("utf-8", "replace").split("\n")
        except OSError:
            _texts[rel] = []
    lines = _texts[rel]
    return " ".join(lines[n - 1].split()) if 0 < n <= len(lines) else ""


def print_legend() -> None:
    sys.stderr.write(LEGEND)
