"""Real pushes into a server's real hooks, ours or gitolite3's, the same way on both sides.

A push is ``git push`` over git's local transport with the environment each side's ssh
entry point would give the hooks: ``GL_USER`` and ``GL_REPO`` (plus, for gitolite,
``GL_LIBDIR``/``GL_BINDIR``, which gitolite-shell sets). Each side keeps one work tree
per repo; a scenario commits files there (text, binary of a given size, deletions) and
pushes as some user; the answer compared is accepted or rejected.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.gitolite_ref import GitoliteRef
from tests.support.server import Server

GL_SHARE = "/usr/share/gitolite3"


def _git(
    cwd: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check, timeout=120
    )


class Side:
    """One server (ours or gitolite's) and a work tree per repo."""

    def __init__(
        self, name: str, repo_base: Path, env: dict[str, str], hook_env: dict[str, str], work: Path
    ) -> None:
        self.name = name
        self.repo_base = repo_base
        self.env = {
            **env,
            "GIT_AUTHOR_NAME": "T",
            "GIT_COMMITTER_NAME": "T",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "GIT_AUTHOR_DATE": "1700000000 +0000",
            "GIT_COMMITTER_DATE": "1700000000 +0000",
        }
        self.hook_env = hook_env
        self.work = work
        work.mkdir(parents=True, exist_ok=True)

    def tree(self, repo: str) -> Path:
        w = self.work / repo.replace("/", "_")
        if not w.exists():
            _git(self.work, self.env, "init", "-q", "-b", "master", str(w))
            _git(w, self.env, "remote", "add", "origin", str(self.repo_base / f"{repo}.git"))
        return w

    def commit(self, repo: str, files: dict[str, bytes | None], message: str = "c") -> str:
        """Write (bytes) or delete (None) ``files``, commit; the new commit id."""
        w = self.tree(repo)
        for rel, data in files.items():
            p = w / rel
            if data is None:
                if p.exists():
                    p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        _git(w, self.env, "add", "-A", ".")
        _git(w, self.env, "commit", "-q", "--allow-empty", "-m", message)
        return _git(w, self.env, "rev-parse", "HEAD").stdout.strip()

    def run_git(self, repo: str, *args: str) -> str:
        return _git(self.tree(repo), self.env, *args).stdout

    def reset(self, repo: str, to: str) -> None:
        _git(self.tree(repo), self.env, "reset", "-q", "--hard", to)

    def push(
        self, repo: str, user: str, refspec: str = "HEAD:master", force: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **self.hook_env, "GL_USER": user, "GL_REPO": repo}
        args = ["push", "-q", "origin", refspec] + (["-f"] if force else [])
        return _git(self.tree(repo), env, *args, check=False)


def ours(server: Server, work: Path) -> Side:
    return Side("ours", server.repo_base, dict(server.env), {}, work)


def theirs(ref: GitoliteRef, work: Path) -> Side:
    hook_env = {"GL_LIBDIR": f"{GL_SHARE}/lib", "GL_BINDIR": GL_SHARE}
    env = {
        k: v
        for k, v in ref.env.items()
        if k in os.environ or k in ("HOME", "USER", "GIT_CONFIG_NOSYSTEM")
    }
    return Side("gitolite", ref.repo_base, env, hook_env, work)
