"""The Create-a-build request body, from the pushed commit itself (never from HEAD).

Message and author come from ``git show`` of the pushed object peeled to its commit (so
an annotated tag builds the commit it points at), for all of a push's refs in one git
run. The body is a dict serialised with ``json``: quotes, newlines and non-ASCII in a
commit message cannot break it.
"""

from __future__ import annotations

import subprocess

from gitolite_triggers.buildkite.config import DELIVERY_KEY, Target


class CommitInfo:
    """One commit's sha, author and message. A ``__slots__`` class, not a dataclass: the
    update hook loads this module on every push that builds, and ``dataclasses`` (with the
    ``inspect`` it imports) would be most of its import time."""

    __slots__ = ("sha", "author_name", "author_email", "message")

    def __init__(self, sha: str, author_name: str, author_email: str, message: str) -> None:
        self.sha = sha
        self.author_name = author_name
        self.author_email = author_email
        self.message = message

    def __repr__(self) -> str:
        return f"CommitInfo(sha={self.sha!r}, author_name={self.author_name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CommitInfo) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__
        )

    __hash__ = None  # type: ignore[assignment]


def commit_infos(git_dir: str, objects: list[str]) -> dict[str, CommitInfo]:
    """{pushed object name: its commit's info}; objects that are not commit-ish are absent.

    Two git runs whatever the number of refs (a push of hundreds of tags or branches must
    not cost hundreds of processes): ``cat-file --batch-check`` peels each object to its
    commit, then one ``log --no-walk --stdin`` prints them all.
    """
    objects = list(dict.fromkeys(objects))
    if not objects:
        return {}
    git = ["git", f"--git-dir={git_dir}"]
    if len(objects) == 1:  # the update hook's case: log peels a tag itself, one git run
        found = _log(git, objects)
        return {objects[0]: found.popitem()[1]} if len(found) == 1 else {}
    peel = subprocess.run(  # argv list
        [*git, "cat-file", "--batch-check=%(objectname) %(objecttype)"],
        input="".join(f"{o}^{{commit}}\n" for o in objects).encode(),
        capture_output=True,
    )
    commit_of: dict[str, str] = {}
    for obj, line in zip(objects, peel.stdout.decode().splitlines(), strict=False):
        parts = line.split()
        if len(parts) == 2 and parts[1] == "commit":
            commit_of[obj] = parts[0]
    if not commit_of:
        return {}
    by_sha = _log(git, list(dict.fromkeys(commit_of.values())))
    return {obj: by_sha[c] for obj, c in commit_of.items() if c in by_sha}


def _log(git: list[str], revs: list[str]) -> dict[str, CommitInfo]:
    """{commit sha: info} of ``revs`` (commit-ish), in one ``git log --no-walk --stdin``."""
    shown = subprocess.run(  # argv list
        [
            *git,
            "log",
            "--no-walk=unsorted",
            "--stdin",
            "--no-color",
            "--format=%H%x00%an%x00%ae%x00%B%x00%x01",
        ],
        input="".join(f"{c}\n" for c in revs).encode(),
        capture_output=True,
    )
    if shown.returncode != 0:
        return {}
    by_sha: dict[str, CommitInfo] = {}
    for chunk in shown.stdout.decode("utf-8", "replace").split("\0\x01"):
        fields = chunk.lstrip("\n").split("\0", 3)
        if len(fields) == 4:
            sha, name, email, message = fields
            by_sha[sha] = CommitInfo(sha, name, email, message.rstrip("\n"))
    return by_sha


def build_body(
    target: Target, branch: str, info: CommitInfo, rid: str, repo: str, ref: str, user: str | None
) -> dict[str, object]:
    """The JSON body for POST .../builds (reference A.2)."""
    meta = dict(target.meta_data)
    meta.update({DELIVERY_KEY: rid, "gitolite_repo": repo, "gitolite_ref": ref})
    if user:
        meta["gitolite_user"] = user
    return {
        "commit": info.sha,
        "branch": branch,
        "message": info.message,
        "author": {"name": info.author_name, "email": info.author_email},
        "env": dict(target.env),
        "meta_data": meta,
        "clean_checkout": target.clean_checkout,
        "ignore_pipeline_branch_filters": target.ignore_pipeline_branch_filters,
    }
