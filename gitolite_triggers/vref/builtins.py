"""The VREF helpers we ship, run in-process: ``COUNT`` and ``MAX_NEWBIN_SIZE``.

Same contract as an external helper (check.py): given the update and the VREF's
arguments, return output lines; a line starting ``VREF/`` is a virtual ref to check,
followed by its deny message. A ``LOCAL_CODE/VREF/<name>`` program of the same name
takes precedence, as in gitolite.

- ``VREF/COUNT/N[/NEWFILES|/NO_SIGNOFF]``: the number of distinct files changed (or
  only added, with NEWFILES or NO_SIGNOFF) in the commits this push brings that no ref
  of the repo has yet (``git log --name-only NEW --not --all``, so a new branch counts
  only its new commits); more than N prints the VREF with "(too many changed files in
  this push)". With NO_SIGNOFF, a top commit message holding the line ``<count> new
  files signed-off by: <author email>`` lets it through.
- ``VREF/MAX_NEWBIN_SIZE/N``: a binary file new in this update (or that was empty) of
  more than N bytes prints the VREF with "<file> is larger than N", unless the top commit
  message has the line ``<file> signed-off by: <author email>``.

A malformed N fails the push (gitolite's shell helper would silently allow it).
"""

from __future__ import annotations

from gitolite_triggers.errors import Fatal
from gitolite_triggers.vref.gitio import Push, git_output

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

EMPTY_BLOB = {
    40: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
    64: "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813",
}
MAX_LOG_BYTES = 256 << 20
MAX_DIFF_BYTES = 64 << 20
_TOO_BIG = "this push is too large to check against the repo's VREF/{name} rules; push it in parts"


def _number(vref: str, args: list[str]) -> int:
    if not args or not args[0].isdigit() or len(args[0]) > 18:
        raise Fatal(f"'{vref}': the VREF needs a number (VREF/NAME/N), not {args[:1]}")
    return int(args[0])


def _top_message(push: Push) -> tuple[str, str]:
    """(author email, message with tabs as spaces) of the pushed commit."""
    email = git_output(["log", "--format=%ae", "-1", push.new], 4096, "bad commit")
    body = git_output(["cat-file", "commit", push.new], 16 << 20, "commit too large")
    text = body.decode("utf-8", "surrogateescape").replace("\t", " ")
    return email.decode("utf-8", "surrogateescape").strip(), text


def _signed_off(text: str, what: str, email: str) -> bool:
    """Is there a line `` *WHAT +signed-off by: *EMAIL *`` (any case) in ``text``?"""
    want_tail = "signed-off by:"
    for line in text.split("\n"):
        low = line.lower().lstrip(" ")
        if not low.startswith(what.lower()):
            continue
        rest = low[len(what) :]
        if not rest.startswith(" "):
            continue
        rest = rest.lstrip(" ")
        if not rest.startswith(want_tail):
            continue
        if rest[len(want_tail) :].strip(" ") == email.lower():
            return True
    return False


def count(push: Push, vref: str, args: list[str]) -> list[str]:
    limit = _number(vref, args)
    mode = args[1] if len(args) > 1 else ""
    if push.deleting:
        return []
    new_only = mode in ("NEWFILES", "NO_SIGNOFF")
    cmd = ["log", "--name-only", "--format=%n", "--no-ext-diff"]
    if new_only:
        cmd.append("--diff-filter=A")
    out = git_output(
        [*cmd, push.newtree, "--not", "--all"], MAX_LOG_BYTES, _TOO_BIG.format(name="COUNT")
    )
    n = len({line for line in out.split(b"\n") if line.strip()})
    if n <= limit:
        return []
    if mode == "NO_SIGNOFF":
        email, text = _top_message(push)
        if _signed_off(text, f"{n} new files", email):
            return []
        return [
            f"{vref} top commit message should include the text "
            f"'{n} new files signed-off by: {email}'"
        ]
    kind = "new" if new_only else "changed"
    return [f"{vref} (too many {kind} files in this push)"]


def _parse_raw_numstat(data: bytes) -> list[tuple[str, str, str, str, bool]]:
    """``git diff -z --raw --numstat`` into (status, old blob, new blob, path, binary)."""
    tok = data.split(b"\0")
    raw: list[tuple[str, str, str, str]] = []
    i = 0
    while i < len(tok) and tok[i].startswith(b":"):
        meta = tok[i].decode("ascii", "replace").split(" ")
        status = meta[-1]
        paths = 2 if status[:1] in ("R", "C") else 1
        if len(meta) < 5 or i + paths >= len(tok):
            break
        path = tok[i + paths].decode("utf-8", "surrogateescape")
        raw.append((status, meta[2], meta[3], path))
        i += 1 + paths
    out = []
    for status, old_blob, new_blob, path in raw:
        if i >= len(tok):
            break
        stat = tok[i]
        binary = stat.startswith(b"-\t-\t")
        i += 3 if stat.endswith(b"\t") else 1  # a rename: "a\tb\t" then its two paths
        out.append((status, old_blob, new_blob, path, binary))
    return out


def max_newbin_size(push: Push, vref: str, args: list[str]) -> list[str]:
    limit = _number(vref, args)
    if push.deleting:
        return []
    data = git_output(
        ["diff", "-z", "--raw", "--numstat", "--no-abbrev", "--no-ext-diff", "--no-textconv",
         push.oldtree, push.newtree, "--"],
        MAX_DIFF_BYTES,
        _TOO_BIG.format(name="MAX_NEWBIN_SIZE"),
    )  # fmt: skip
    empty = EMPTY_BLOB.get(len(push.old), EMPTY_BLOB[40])
    zero = "0" * len(push.old)
    candidates = [
        (path, new_blob)
        for status, old_blob, new_blob, path, binary in _parse_raw_numstat(data)
        if binary and (status == "A" or (status[:1] in ("M", "T") and old_blob in (empty, zero)))
    ]
    if not candidates:
        return []
    sizes = _sizes([blob for _, blob in candidates])
    big = [path for path, blob in candidates if sizes.get(blob, 0) > limit]
    if not big:
        return []
    from gitolite_triggers.names import safe_ref

    email, text = _top_message(push)
    for path in big:
        if not _signed_off(text, path, email):
            return [f"{vref} {safe_ref(path)} is larger than {limit}"]
    return []


def _sizes(blobs: list[str]) -> dict[str, int]:
    """Object sizes by id (one ``git cat-file --batch-check``)."""
    import subprocess

    ids = [b for b in dict.fromkeys(blobs) if b.isalnum()]
    proc = subprocess.run(  # argv list
        ["git", "cat-file", "--batch-check=%(objectname) %(objectsize)"],
        input="".join(b + "\n" for b in ids).encode("ascii"),
        capture_output=True,
        check=False,
    )
    out: dict[str, int] = {}
    for line in proc.stdout.decode("ascii", "replace").split("\n"):
        name, _, size = line.partition(" ")
        if size.isdigit():
            out[name] = int(size)
    return out


BUILTINS: dict[str, Callable[[Push, str, list[str]], list[str]]] = {
    "COUNT": count,
    "MAX_NEWBIN_SIZE": max_newbin_size,
}
