"""The old home of ``RcError`` and the audience functions, kept so those names still work.

They are in errors.py now, with ``Fatal``; package code imports that, never this module.
"""

from __future__ import annotations

from gitolite_triggers.errors import (
    Fatal,
    RcError,
    client_refusal,
    session_ref,
    set_client,
    talking_to_client,
)

__all__ = ["Fatal", "RcError", "client_refusal", "session_ref", "set_client", "talking_to_client"]
