"""``symbolic-ref REPO HEAD [refs/heads/BRANCH]``: show or set a repo's default branch.

gitolite's right: write access to REPO (else ``You are not authorised``, on stderr, exit 1).
Stricter than gitolite, which passes any arguments to ``git symbolic-ref``: only ``HEAD``
(show it) and ``HEAD refs/heads/BRANCH`` (set it, BRANCH a valid ref name) are taken.
"""

from __future__ import annotations

import sys

from gitolite_triggers.shell.cmdlib import Quit, can_write, need_user, repo_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\
Usage:    ssh git@host symbolic-ref <repo> HEAD [refs/heads/<branch>]

Show or set the repo's HEAD (its default branch); needs write access.
"""


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if not args or args[0] == "-h":
        sys.stdout.write(USAGE)
        return 1
    user = need_user(user)
    repo = args[0].removesuffix(".git")
    path = repo_dir(rc, repo) if can_write(rc, repo, user) else None
    if path is None:
        raise Quit("You are not authorised")
    rest = args[1:]
    if rest != ["HEAD"] and not (
        len(rest) == 2
        and rest[0] == "HEAD"
        and rest[1].startswith("refs/heads/")
        and _branch_ok(rest[1])
    ):
        raise Quit("symbolic-ref: only 'HEAD' and 'HEAD refs/heads/<branch>' are supported")
    import subprocess

    sys.stdout.flush()
    cmd = ["git", f"--git-dir={path}", "symbolic-ref", *rest]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode


BRANCH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/+@")


def _branch_ok(ref: str) -> bool:
    """``refs/heads/X`` with X in repo-name characters and git's ref rules: no empty or
    ``.``-leading component, no ``..`` or ``@{``, no ``.lock`` or ``.`` ending."""
    branch = ref.removeprefix("refs/heads/")
    if branch == ref or not branch or not BRANCH_CHARS.issuperset(branch):
        return False
    if ".." in branch or "@{" in branch or branch.endswith("."):
        return False
    return all(
        part and not part.startswith(".") and not part.endswith(".lock")
        for part in branch.split("/")
    )
