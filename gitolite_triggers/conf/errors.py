"""The exceptions of the rules part: conf errors name file and line, access errors name the input."""

from __future__ import annotations


class ConfError(Exception):
    """One or more errors in gitolite.conf (or an included file).

    ``str()`` is ``"file:line: message"`` for the first error, then one more such line per
    further error, so callers can print it as is (the admin push shows it as ``remote:`` lines).
    """

    def __init__(self, errors: list[tuple[str, int, str]]) -> None:
        self.errors = errors
        super().__init__("\n".join(f"{f}:{n}: {m}" for f, n, m in errors))


class AccessError(ValueError):
    """Bad input to an access check (invalid user, repo or ref): gitolite dies with FATAL here."""


class StoreError(RuntimeError):
    """The compiled store is missing or unreadable."""
