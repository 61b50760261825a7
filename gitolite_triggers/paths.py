"""Where a server account keeps things.

Everything is derived from ``$HOME`` (the hosting user's home, which sshd sets) so
that tests and the demo can sandbox a whole server in a temp dir by setting HOME.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUILTIN_TRIGGERS_DIR = PACKAGE_DIR / "triggers"
SCHEMA_DIR = PACKAGE_DIR / "schema"
SHIPPED_RC_D = PACKAGE_DIR / "rc.d"


def home() -> Path:
    """The hosting account's home directory."""
    return Path(os.environ.get("HOME") or os.path.expanduser("~"))


def rc_path() -> Path:
    """The main rc file: ``$GL_RC`` if set, else ``~/.gitolite.rc.yaml``."""
    env = os.environ.get("GL_RC")
    return Path(env) if env else home() / ".gitolite.rc.yaml"


def rc_d_path() -> Path:
    """The drop-in fragment folder: ``$GL_RC_D`` if set, else ``~/.gitolite.rc.d``."""
    env = os.environ.get("GL_RC_D")
    return Path(env) if env else home() / ".gitolite.rc.d"


def rc_cache_path() -> Path:
    """The compiled (validated, merged) rc cache, read on the hot path instead of YAML."""
    rc = rc_path()
    return rc.with_name(rc.name + ".cache.json")


def expand(value: str) -> str:
    """Expand ``~`` and ``$VARS`` in an rc path setting, relative to the account's HOME."""
    if value.startswith("~/") or value == "~":
        value = str(home()) + value[1:]
    return os.path.expandvars(value)
