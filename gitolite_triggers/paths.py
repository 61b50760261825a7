"""Where a server account keeps things.

Everything is derived from ``$HOME`` (the hosting user's home, which sshd sets) so
that tests and the demo can sandbox a whole server in a temp dir by setting HOME.

The ``*_file``/``*_dir`` string functions are what the hot path uses: pathlib costs
every ssh session a few milliseconds to import, so the ``Path`` flavours (and the
``Path`` constants, via module ``__getattr__``) import it only when asked for.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing itself costs every ssh session its import
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


PACKAGE = os.path.dirname(os.path.abspath(__file__))
BUILTIN_TRIGGERS = os.path.join(PACKAGE, "triggers")
_PATH_CONSTANTS = {
    "PACKAGE_DIR": PACKAGE,
    "BUILTIN_TRIGGERS_DIR": BUILTIN_TRIGGERS,
    "SCHEMA_DIR": os.path.join(PACKAGE, "schema"),
    "SHIPPED_RC_D": os.path.join(PACKAGE, "rc.d"),
}


def __getattr__(name: str) -> Any:
    """``PACKAGE_DIR``, ``BUILTIN_TRIGGERS_DIR``, ``SCHEMA_DIR``, ``SHIPPED_RC_D`` as Paths."""
    if name in _PATH_CONSTANTS:
        from pathlib import Path

        return Path(_PATH_CONSTANTS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def home() -> Path:
    from pathlib import Path

    return Path(home_dir())


def rc_path() -> Path:
    from pathlib import Path

    return Path(rc_file())


def rc_d_path() -> Path:
    from pathlib import Path

    return Path(rc_d_dir())


def rc_cache_path() -> Path:
    from pathlib import Path

    return Path(rc_cache_file())


def expand(value: str) -> str:
    """Expand ``~`` and ``$VARS`` in an rc path setting, relative to the account's HOME."""
    if value.startswith("~/") or value == "~":
        value = home_dir() + value[1:]
    return os.path.expandvars(value)
