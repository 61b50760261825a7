"""Working with the gitolite-admin repo in tests: clone it, commit, and push it as the admin.

The push is a real ``git push`` over git's local transport, so the server's real hooks
run in a real ``git receive-pack``; it carries what ``gitolite-triggers shell`` would
set for an ssh user (``GL_USER``, ``GL_REPO``), which is all the hooks need. The
sshd version of the same push lives in the SHELL engineer's tests.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.server import Server


def git(
    cwd: Path, *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check, timeout=120
    )


def bare_git(
    server: Server, repo: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``git --git-dir=<repo>.git ARGS`` on the server side."""
    return git(
        server.home,
        f"--git-dir={server.repo_base / (repo + '.git')}",
        *args,
        env=server.env,
        check=check,
    )


def head_branch(server: Server) -> str:
    return bare_git(server, "gitolite-admin", "symbolic-ref", "--short", "HEAD").stdout.strip()


def clone_admin(server: Server, dest: Path) -> Path:
    git(
        dest.parent,
        "clone",
        "-q",
        str(server.repo_base / "gitolite-admin.git"),
        str(dest),
        env=server.env,
    )
    return dest


def commit_all(work: Path, env: dict[str, str], message: str) -> None:
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", message, env=env)


def push_as(
    server: Server, work: Path, user: str, repo: str = "gitolite-admin", refspec: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``git push origin`` with the environment the ssh wrapper gives the hooks."""
    env = {**server.env, "GL_USER": user, "GL_REPO": repo}
    return git(
        work, "push", "origin", refspec or f"HEAD:{head_branch(server)}", env=env, check=False
    )
