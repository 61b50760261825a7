"""One ref update of a push, ``old new refname``: git's receive-hook line, parsed once.

git gives the post-receive and pre-receive hooks one such line per updated ref; the push
record stores the same lines (hooks/pushrecord.py) and the buildkite program reads them
back. A tuple subclass, like shell/soc.py's GitRequest.
"""

from __future__ import annotations

from gitolite_triggers.names import is_sha

HEADS = "refs/heads/"


class RefUpdate(tuple[str, str, str]):
    """``(old, new, ref)``: object names before and after (all zeros: none), and the ref."""

    __slots__ = ()

    def __new__(cls, old: str, new: str, ref: str) -> RefUpdate:
        return tuple.__new__(cls, (old, new, ref))

    @property
    def old(self) -> str:
        return self[0]

    @property
    def new(self) -> str:
        return self[1]

    @property
    def ref(self) -> str:
        return self[2]

    @property
    def is_create(self) -> bool:
        return is_zero(self.old)

    @property
    def is_delete(self) -> bool:
        return is_zero(self.new)

    @property
    def branch(self) -> str | None:
        """The branch name for a ``refs/heads/`` ref, else None."""
        return self.ref[len(HEADS) :] if self.ref.startswith(HEADS) else None

    def line(self) -> str:
        """The update as git writes it to a hook: ``old new ref`` and a newline."""
        return f"{self.old} {self.new} {self.ref}\n"

    def __repr__(self) -> str:
        return f"RefUpdate(old={self.old!r}, new={self.new!r}, ref={self.ref!r})"


def is_zero(sha: str) -> bool:
    """git's "no object" name (all zeros, of either hash's length)."""
    return bool(sha) and not sha.strip("0")


def parse(text: str) -> list[RefUpdate]:
    """Every well-formed ``old new ref`` line of ``text`` (full object names, a ref);
    anything else is skipped: refnames hold no spaces or newlines."""
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and is_sha(parts[0]) and is_sha(parts[1]) and parts[2]:
            out.append(RefUpdate(parts[0], parts[1], parts[2]))
    return out
