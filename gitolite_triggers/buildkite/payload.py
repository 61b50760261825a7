"""The Create-a-build request body, from the pushed commit itself (never from HEAD).

Message and author come from ``git show`` of the pushed object peeled to its commit (so
an annotated tag builds the commit it points at), for all of a push's refs in one git
run. The body is a dict serialised with ``json``: quotes, newlines and non-ASCII in a
commit message cannot break it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from gitolite_triggers.buildkite.config import DELIVERY_KEY, Target

ZERO_RE = frozenset("0")


@dataclass
class CommitInfo:
    sha: str
    author_name: str
    author_email: str
    message: str


def is_zero(sha: str) -> bool:
    return bool(sha) and set(sha) <= ZERO_RE


def commit_infos(git_dir: str, objects: list[str]) -> dict[str, CommitInfo]:
    """{pushed object name: its commit's info}; objects that are not commit-ish are absent."""
    out: dict[str, CommitInfo] = {}
    for obj in dict.fromkeys(objects):
        # One object per run: git show stops at the first bad object in a list.
        proc = subprocess.run(  # noqa: S603 - argv list
            [
                "git",
                f"--git-dir={git_dir}",
                "show",
                "-s",
                "--no-color",
                "--format=%H%x00%an%x00%ae%x00%B",
                f"{obj}^{{commit}}",
                "--",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        if proc.returncode != 0:
            continue
        sha, name, email, message = proc.stdout.decode("utf-8", "replace").split("\0", 3)
        out[obj] = CommitInfo(sha.strip(), name, email, message.rstrip("\n"))
    return out


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
