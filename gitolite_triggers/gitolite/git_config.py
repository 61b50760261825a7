"""``gitolite git-config [-n] [-q] [-r] [-ev] REPO KEY``: a repo's config values from the rules.

What a site's hook reads to learn a repo's ``config``/``option`` lines (``gitolite git-config
-q foo gitolite-options.deny-repo``). As gitolite: KEY is an exact key unless ``-r`` makes
it an unanchored regex (matched in linear time, linear_re); with ``-r`` each match prints
as ``REPO<TAB>KEY<TAB>VALUE``, otherwise the value alone (``-n``: without the newline);
``-q`` prints nothing; exit 1 when nothing matched. Empty values count only with ``-ev``.
``%`` for REPO or KEY reads them from stdin lines, printing the ``-r`` form.
"""

from __future__ import annotations

import sys

from gitolite_triggers.errors import Fatal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\

Usage:  gitolite git-config [-n] [-q] [-r] [-ev] <repo> <key|regex>

Print git config keys and values for the given repo.  The key is either a full
key, or, if '-r' is given, a regex that is matched against all possible keys,
and all matching keys (and their values) are printed.

    -n      suppress the trailing newline when printing the value of one key
    -q      quiet; exit code only (0 = the key was found)
    -r      treat the key as an unanchored regex
    -ev     count keys whose value is empty too
"""


def main(name: str, argv: list[str]) -> int:
    from gitolite_triggers.rc import load_rc

    flags = {"-n": False, "-q": False, "-r": False, "-ev": False}
    words = list(argv)
    while words and words[0] in flags:
        flags[words.pop(0)] = True
    if len(words) != 2 or words[0] == "-h":
        sys.stdout.write(USAGE)
        return 1
    repo, key = words
    rc = load_rc()
    if "%" not in (repo, key):
        found = lookup(rc, repo, key, flags["-r"], flags["-ev"])
        if not flags["-r"] and len(found) > 1:
            raise Fatal(f"found more than one entry for '{key}'")
        if not found:
            return 1
        if not flags["-q"]:
            for k in sorted(found):
                if flags["-r"]:
                    sys.stdout.write(f"{repo}\t{k}\t{found[k]}\n")
                else:
                    sys.stdout.write(found[k] + ("" if flags["-n"] else "\n"))
        return 0
    if flags["-q"]:
        raise Fatal("'-q' doesn't go with using a pipe")
    for line in sys.stdin:
        got = line.split()
        r = got.pop(0) if repo == "%" and got else repo
        k = got.pop(0) if key == "%" and got else key
        if "%" in (r, k):
            continue
        found = lookup(rc, r, k, flags["-r"], flags["-ev"])
        sys.stdout.write("".join(f"{r}\t{x}\t{found[x]}\n" for x in sorted(found)))
    return 0


def lookup(rc: Rc, repo: str, key: str, regex: bool, empty_ok: bool) -> dict[str, str]:
    """The repo's config keys (options included) equal to ``key``, or matching it with ``regex``."""
    from gitolite_triggers import linear_re
    from gitolite_triggers.conf.check import Checker
    from gitolite_triggers.conf.errors import AccessError
    from gitolite_triggers.conf.store import snapshot, store_path

    if regex:
        try:
            pattern = linear_re.compile(key)
        except linear_re.RegexError as e:
            raise Fatal(f"bad regex '{key}': {e}") from None

        def want(k: str) -> bool:
            return pattern.search(k) is not None
    else:

        def want(k: str) -> bool:
            return k == key

    ch = Checker(snapshot(store_path(rc)), rc.repo_base, rc.admin_base, rc.get("ROLES"))
    try:
        return ch.git_config(repo, want, empty_ok)
    except AccessError as e:
        raise Fatal(str(e)) from None
