"""Where a server account keeps things.

Everything is derived from ``$HOME`` (the hosting user's home, which sshd sets) so
that tests and the demo can sandbox a whole server in a temp dir by setting HOME.
Strings, not Paths: these are read on the hot path (docs/architecture.md).
"""

from __future__ import annotations

import os

PACKAGE = os.path.dirname(os.path.abspath(__file__))
BUILTIN_TRIGGERS = os.path.join(PACKAGE, "triggers")
SCHEMA = os.path.join(PACKAGE, "schema")
SHIPPED_RC_D = os.path.join(PACKAGE, "rc.d")


def home_dir() -> str:
    """The hosting account's home directory."""
    return os.environ.get("HOME") or os.path.expanduser("~")


def rc_file() -> str:
    """The main rc file, ``~/.gitolite.rc.yaml``.

    Only HOME steers it: an environment variable naming another rc (gitolite-triggers once
    read ``GL_RC``/``GL_RC_D``) would let an ssh client that sshd passes ``GL_*`` to switch
    every trigger off. Tests and the demo point HOME at a sandbox instead.
    """
    return os.path.join(home_dir(), ".gitolite.rc.yaml")


def rc_d_dir() -> str:
    """The drop-in fragment folder, ``~/.gitolite.rc.d`` (only HOME steers it, as above)."""
    return os.path.join(home_dir(), ".gitolite.rc.d")


def rc_cache_file() -> str:
    """The compiled (validated, merged) rc cache, read on the hot path instead of YAML."""
    return rc_file() + ".cache"


def expand(value: str) -> str:
    """Expand ``~`` and ``$VARS`` in an rc path setting, relative to the account's HOME."""
    if value.startswith("~/") or value == "~":
        value = home_dir() + value[1:]
    return os.path.expandvars(value)
