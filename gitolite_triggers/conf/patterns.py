"""gitolite's name patterns (Rc.pm), which decide what a valid repo, user, ref or value is.

Python's ``$`` matches at the end or before a final newline, exactly like Perl's, so these
behave like gitolite's ``qr(...)`` when used with ``match``.
"""

from __future__ import annotations

import re

REF_OR_FILENAME_PATT = re.compile(r"^[0-9a-zA-Z][-0-9a-zA-Z._@/+ :,]*$")
REPONAME_PATT = re.compile(r"^@?[0-9a-zA-Z][-0-9a-zA-Z._@/+]*$")
REPOPATT_PATT = re.compile(r"^@?[\[0-9a-zA-Z][-0-9a-zA-Z._@/+\\^$|()\[\]*?{},]*$")
USERNAME_PATT = re.compile(r"^@?[0-9a-zA-Z][-0-9a-zA-Z._@+]*$")
UNSAFE_PATT = re.compile(r"[`~#$&()|;<>]")
SAFE_REF_CHARS = re.compile(r"[^-0-9a-zA-Z._@/+ :,]")


def is_plain(name: str) -> bool:
    """A repo name (not a pattern), as gitolite decides it: it matches REPONAME_PATT."""
    return REPONAME_PATT.match(name) is not None
