"""``partial-copy``: a repo that shows a user only the branches they may read of another.

gitolite's feature of that name (docs/conf.md, "Partial copies"). A repo whose git config
has ``gitolite.partialCopyOf = MAIN`` (a ``config`` line; GIT_CONFIG_KEYS must allow it):

- ``sync`` (PRE_GIT, before every git command on the copy): each branch of MAIN the user
  may read in the copy (its own rules, such as ``- secret-1$ = u4``) is fetched into the
  copy (forced), with the tags git follows along; then every branch or tag the copy has
  that MAIN lacks or the user may not read is deleted, and so is every tag no branch left
  reaches. The copy's refs are thus always a readable subset of MAIN's.
- ``forward`` (the VREF ``VREF/partial-copy``, to be the last VREF of the copy's rules): a
  push to the copy is made in MAIN too, before the copy's ref moves. The pushed objects
  go from the copy's quarantine into MAIN as a pack (``pack-objects`` into ``index-pack``),
  MAIN is checked to hold everything the new commit needs, then MAIN's ref moves with
  ``update-ref REF NEW OLD``: it fails, and so refuses the push, when MAIN's ref is not
  where the copy's was (no update is lost). MAIN's hooks are not run: gitolite pushes
  with access checks bypassed, and here no bypass switch exists that anything else could
  set (docs/conf.md, "Differences from gitolite").

Repo names come from the repo's own config (admin content) and the hook's environment:
each passes the canonical name check, and MAIN must be an existing repo.
"""

from __future__ import annotations

import os

from gitolite_triggers.errors import Fatal

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

    from gitolite_triggers.rc import Rc
    from gitolite_triggers.vref.gitio import Push

KEY = "gitolite.partialCopyOf"
PROG = "partial-copy"


def _clean_env() -> dict[str, str]:
    """The environment for git acting on MAIN: none of the hook's GIT_* (its quarantine)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def _git(
    args: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None, data: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    import subprocess

    return subprocess.run(  # argv list, no shell
        ["git", *args], cwd=cwd, env=env, input=data, capture_output=True, check=False
    )


def main_of(rc: Rc, repo: str) -> str | None:
    """MAIN for a partial copy (None when ``repo`` is not one); a bad MAIN is a Fatal."""
    from gitolite_triggers.names import repo_name_problem

    got = _git(
        ["config", "--file", f"{rc.repo_base}/{repo}.git/config", "--get", KEY], env=_clean_env()
    )
    main = got.stdout.decode("utf-8", "replace").strip()
    if not main:
        return None
    problem = repo_name_problem(main)
    if problem or main == repo or not os.path.isdir(f"{rc.repo_base}/{main}.git"):
        raise Fatal(f"{PROG}: {repo}: {KEY} '{main}' is not a repo here")
    return main


def _refs(git_dir: str, *patterns: str, extra: tuple[str, ...] = ()) -> list[str]:
    got = _git(
        ["--git-dir", git_dir, "for-each-ref", "--format=%(refname)", *extra, *patterns],
        env=_clean_env(),
    )
    if got.returncode != 0:
        raise Fatal(f"{PROG}: cannot list the refs of {os.path.basename(git_dir)}")
    return got.stdout.decode("utf-8", "surrogateescape").split()


def sync(rc: Rc, repo: str, user: str) -> None:
    """Make the copy's refs MAIN's refs that ``user`` may read in the copy (see above)."""
    from gitolite_triggers.conf.query import access, is_denied

    main = main_of(rc, repo)
    if main is None:
        return
    env = _clean_env()
    here, there = f"{rc.repo_base}/{repo}.git", f"{rc.repo_base}/{main}.git"

    def readable(ref: str) -> bool:
        return not is_denied(access(rc, repo, user, "R", ref))

    heads = [r for r in _refs(there, "refs/heads") if readable(r)]
    if heads:
        got = _git(
            ["--git-dir", here, "fetch", "-f", there, *(f"+{r}:{r}" for r in heads)], env=env
        )
        if got.returncode != 0:
            raise Fatal(f"{PROG}: fetching {main}'s branches into {repo} failed")
        # git's own report of what came over (`* [new branch] ...`), as gitolite shows it
        os.write(2, got.stderr[-65536:])
    in_main = set(_refs(there, "refs/heads", "refs/tags"))
    for ref in _refs(here, "refs/heads", "refs/tags"):
        if ref not in in_main or not readable(ref):
            _git(["--git-dir", here, "update-ref", "-d", ref], env=env)
    branches = _refs(here, "refs/heads")
    merged = tuple(f"--merged={b}" for b in branches)
    kept = set(_refs(here, "refs/tags", extra=merged)) if branches else set()
    for tag in _refs(here, "refs/tags"):
        if tag not in kept:  # no branch the user sees reaches it
            _git(["--git-dir", here, "update-ref", "-d", tag], env=env)


def forward(push: Push, vref: str, args: list[str]) -> list[str]:
    """The VREF: make this update in MAIN first; a failure refuses the push (Fatal)."""
    from gitolite_triggers.names import repo_name_problem
    from gitolite_triggers.rc import load_rc

    rc = load_rc()
    repo = os.environ.get("GL_REPO", "")
    if not repo or repo_name_problem(repo):
        raise Fatal(f"{PROG}: no valid GL_REPO")
    main = main_of(rc, repo)
    if main is None:
        return []
    there = f"{rc.repo_base}/{main}.git"
    env = _clean_env()
    if push.deleting:
        done = _git(["--git-dir", there, "update-ref", "-d", push.ref, push.old], env=env)
        if done.returncode != 0:
            raise Fatal(f"{PROG}: failed to delete {push.ref} in {main}")
        return []
    # the copy's tips (all of them in MAIN already) bound the pack: only new objects go
    tips = _git(["for-each-ref", "--format=%(objectname)"]).stdout.decode().split()
    revs = "".join(f"^{t}\n" for t in tips if t != push.new) + push.new + "\n"
    pack = _git(["pack-objects", "--stdout", "--revs", "-q"], data=revs.encode())
    if pack.returncode != 0:
        raise Fatal(f"{PROG}: failed to pack {push.new[:12]} for {main}")
    steps = (
        (["index-pack", "--stdin", "--fix-thin"], pack.stdout),
        (["rev-list", "--quiet", "--objects", push.new, "--not", "--all"], b""),  # all there
        (["update-ref", push.ref, push.new, push.old], b""),
    )
    for argv, data in steps:
        done = _git(["--git-dir", there, *argv], env=env, data=data)
        if done.returncode != 0:
            raise Fatal(f"{PROG}: failed to send {push.ref} to {main} ({argv[0]})")
    return []
