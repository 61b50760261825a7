"""``gitolite query-rc [-n] [-q] KEY [SUBKEY...]`` and ``query-rc -a``: read the effective rc.

Scripts read paths (``GL_REPO_BASE``, ``GL_ADMIN_BASE``, ``GL_BINDIR``, ``GL_LOGFILE``) and
switches (``query-rc -q LOCAL_CODE``) this way. As gitolite: a scalar prints its value, a
list one item per line, a set (``COMMANDS``, ``ROLES``) its sorted names; more words index
into it (``query-rc COMMANDS help`` prints 1). The exit status is 0 when the value is true
in Perl's sense (not missing, not "", not "0"), else 1. UMASK prints in decimal (63 for
0077), as gitolite's does. ``-a`` prints every first-level ``KEY=value``; a list or set
shows as ``ARRAY``/``HASH`` (gitolite adds a memory address we have no use for).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from gitolite_triggers.rc import Rc

USAGE = """\
Usage:  gitolite query-rc -a
        gitolite query-rc [-n] [-q] rc-variable [subkey...]

    -a          print all variables and values (first level only)
    -n          do not append a newline if the value is a scalar
    -q          exit code only (shell truth; 0 is success)

Query the effective rc.  Subsequent words dig into a list (by index) or a set.
    gitolite query-rc GL_REPO_BASE      # the repo base folder
    gitolite query-rc UMASK             # "63" (that's 0077 in decimal)
    gitolite query-rc COMMANDS          # the enabled ssh commands, one per line
    gitolite query-rc -q COMMANDS fork  # exit 0 if 'fork' is enabled
"""

SETS = ("COMMANDS", "ROLES")  # lists in our rc, hashes (name => 1) in gitolite's


def values(rc: Rc) -> dict[str, Any]:
    """The first-level rc as gitolite's query-rc sees it: settings, trigger lists, the
    process settings every gitolite process exports (GL_BINDIR, GL_LOGFILE, GL_TID)."""
    out: dict[str, Any] = {}
    for key, value in rc.settings.items():
        if value is None or isinstance(value, dict) and not value:
            continue
        out[key] = {name: 1 for name in value} if key in SETS else value
    for name, entries in rc.triggers.items():
        out[name] = [e["text"] for e in entries]
    rc.apply_process_settings()
    for key in ("GL_BINDIR", "GL_LOGFILE", "GL_TID"):
        out[key] = os.environ.get(key, "")
    return out


def perl_true(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (list, dict)):
        return True  # a reference is always true
    return str(value) not in ("", "0")


def scalar(value: Any) -> str:
    if value is True:
        return "1"
    if value is False:
        return ""
    return str(value)


def main(name: str, argv: list[str]) -> int:
    from gitolite_triggers.rc import load_rc

    flags = {"-a": False, "-n": False, "-q": False}
    words = list(argv)
    while words and words[0] in flags:
        flags[words.pop(0)] = True
    if words[:1] in (["-h"], ["--help"]) or not words and not flags["-a"]:
        sys.stdout.write(USAGE)
        return 1
    rc = load_rc()
    data = values(rc)
    if flags["-a"]:
        for key in sorted(data):
            v = data[key]
            shown = "ARRAY" if isinstance(v, list) else "HASH" if isinstance(v, dict) else scalar(v)
            print(f"{key}={shown}")
        return 0
    value: Any = data
    for word in words:
        if isinstance(value, dict):
            value = value.get(word)
        elif isinstance(value, list) and word.lstrip("-").isdecimal():
            i = int(word)
            value = value[i] if -len(value) <= i < len(value) else None
        else:
            value = None
        if value is None:
            break
    if not flags["-q"] and value is not None:
        if isinstance(value, dict):
            sys.stdout.write("".join(f"{k}\n" for k in sorted(value)))
        elif isinstance(value, list):
            sys.stdout.write("".join(f"{scalar(v)}\n" for v in value))
        else:
            sys.stdout.write(scalar(value) + ("" if flags["-n"] else "\n"))
    return 0 if perl_true(value) else 1
