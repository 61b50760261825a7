"""What every VREF check needs: the ref update (``Push``) and bounded git output.

gitolite hands a VREF helper seven fixed arguments (ref, old, new, old tree, new tree,
the attempted access); ``Push`` holds them, with the empty tree standing for a missing
side. ``git_output`` runs git in the hook's repo (the quarantine environment inherited,
so it sees the pushed objects) and refuses more output than the caller's bound, so a
hostile push cannot make a check read without limit.
"""

from __future__ import annotations

import subprocess

from gitolite_triggers.errors import Fatal

EMPTY_TREE = {
    40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}


class Push:
    """One ref update as the VREF helpers see it (gitolite's seven fixed arguments)."""

    __slots__ = ("ref", "old", "new", "oldtree", "newtree", "aa")

    def __init__(self, ref: str, old: str, new: str, aa: str) -> None:
        self.ref, self.old, self.new, self.aa = ref, old, new, aa
        empty = EMPTY_TREE.get(len(old), EMPTY_TREE[40])
        zero = "0" * len(old)
        self.oldtree = empty if old == zero else old
        self.newtree = empty if new == zero else new

    def argv(self) -> list[str]:
        return [self.ref, self.old, self.new, self.oldtree, self.newtree, self.aa]

    @property
    def deleting(self) -> bool:
        return self.new == "0" * len(self.new)


def git_output(args: list[str], limit: int, what: str) -> bytes:
    """stdout of ``git ARGS`` in the hook's repo (quarantine env inherited), at most
    ``limit`` bytes: more kills git and refuses the push (``what`` says why)."""
    proc = subprocess.Popen(  # argv list, no shell
        ["git", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = proc.stdout.read(1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            proc.kill()
            proc.wait()
            raise Fatal(what)
        chunks.append(chunk)
    status = proc.wait()
    if status != 0:
        raise Fatal(f"VREF check failed: git {args[0]} exited with status {status}")
    return b"".join(chunks)
