"""Drive the real gitolite (Debian's gitolite3) in a throwaway HOME, as a reference.

Used by the differential test (and free for the benchmarks): ``GitoliteRef(home)``
sets up an account with ``gitolite setup -a admin``, takes a conf (plus included files),
compiles it, creates wild repos with their ``gl-creator``/``gl-perms`` and answers access
queries through ``gitolite access``'s batch mode (``%`` for repo and user, repo/user
pairs on stdin), one gitolite process per (perm, ref, GL_USER) group.

If ``gitolite`` is not installed, :func:`require_gitolite` fails the test (it must never
be silently skipped: CI installs gitolite3).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

Query = tuple[str, str, str, str]  # repo, user, perm, ref


def require_gitolite() -> str:
    """Path of the ``gitolite`` command, or a test failure saying how to get it."""
    # Debian's, by its path first: our own `gitolite` script (beside this interpreter, first
    # on PATH once rc.apply_process_settings ran in-process) must never stand in for it.
    exe = (
        "/usr/bin/gitolite" if os.access("/usr/bin/gitolite", os.X_OK) else shutil.which("gitolite")
    )
    if exe is None or os.path.dirname(exe) == os.path.dirname(os.path.abspath(sys.executable)):
        pytest.fail(
            "the differential test needs the real gitolite: `apt-get install gitolite3` (CI's .ci/run installs it)",
            pytrace=False,
        )
    return exe


class GitoliteRef:
    """One sandboxed gitolite account."""

    def __init__(self, home: Path) -> None:
        self.exe = require_gitolite()
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("GL_", "GIT_", "SSH_", "G3T_"))
        }
        ours = os.path.dirname(
            os.path.abspath(sys.executable)
        )  # gitolite's scripts call `gitolite`
        path = os.pathsep.join(p for p in base.get("PATH", "").split(os.pathsep) if p and p != ours)
        base["PATH"] = path or "/usr/bin:/bin"
        self.env = {**base, "HOME": str(home), "USER": "gitolite-ref", "GIT_CONFIG_NOSYSTEM": "1"}
        self.env.pop("D", None)

    @property
    def conf_dir(self) -> Path:
        return self.home / ".gitolite" / "conf"

    @property
    def repo_base(self) -> Path:
        return self.home / "repositories"

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.exe, *args],
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            check=check,
            cwd=self.home,
            timeout=300,
        )

    def setup(self) -> None:
        self.run("setup", "-a", "admin")

    def write_conf(self, text: str, extra: dict[str, str] | None = None) -> None:
        """gitolite.conf and any included files (paths relative to conf/)."""
        (self.conf_dir / "gitolite.conf").write_text(text)
        for rel, body in (extra or {}).items():
            p = self.conf_dir / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(body)

    def compile(self) -> subprocess.CompletedProcess[str]:
        return self.run("compile")

    def precreate(self, repo: str) -> Path:
        """A repo folder with an empty ``hooks/``: no ``git init`` (fast), and all that
        gitolite's access check looks at. compile/rehook give it gitolite's hooks."""
        path = self.repo_base / f"{repo}.git"
        (path / "hooks").mkdir(parents=True, exist_ok=True)
        return path

    def create_wild(
        self, repo: str, creator: str, perms: str | None = None, init: bool = True
    ) -> None:
        """A wild repo as gitolite leaves it: bare repo, gl-creator, optional gl-perms.

        Call :meth:`rehook` once afterwards to give all new repos gitolite's hooks.
        ``init=False`` makes only the folder (see :meth:`precreate`).
        """
        path = self.repo_base / f"{repo}.git"
        if init:
            path.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["git", "init", "--bare", "--quiet", str(path)],
                env=self.env,
                check=True,
                capture_output=True,
            )
        else:
            self.precreate(repo)
        (path / "gl-creator").write_text(creator + "\n")
        if perms is not None:
            (path / "gl-perms").write_text(perms)

    def rehook(self) -> None:
        self.run("setup", "--hooks-only")

    def access_one(
        self, repo: str, user: str, perm: str, ref: str, gl_user: str | None = None
    ) -> tuple[int, str]:
        env = {"GL_USER": gl_user} if gl_user else {}
        p = self.run("access", repo, user, perm, ref, env=env, check=False)
        return p.returncode, p.stdout.rstrip("\n")

    def access_batch(self, queries: Iterable[Query], gl_user: str | None = None) -> list[str]:
        """Results for ``queries`` in order; one gitolite run per distinct (perm, ref)."""
        queries = list(queries)
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (_, _, perm, ref) in enumerate(queries):
            groups[(perm, ref)].append(i)
        results: list[str] = [""] * len(queries)
        env = {"GL_USER": gl_user} if gl_user else {}
        for (perm, ref), idxs in groups.items():
            stdin = "".join(f"{queries[i][0]} {queries[i][1]}\n" for i in idxs)
            p = self.run("access", "%", "%", perm, ref, input=stdin, env=env, check=False)
            lines = p.stdout.splitlines()
            if p.returncode != 0 or len(lines) != len(idxs):
                raise AssertionError(
                    f"gitolite access batch ({perm} {ref}) failed: rc={p.returncode}\n{p.stderr}"
                )
            for i, line in zip(idxs, lines, strict=True):
                r, u, result = line.split("\t", 2)
                assert (r, u) == queries[i][:2], line
                results[i] = result
        return results

    def options(
        self, repos: Iterable[str], gl_user: str | None = None
    ) -> dict[str, dict[str, str]]:
        """Each repo's ``option`` values as gitolite's ``git-config -r % '^gitolite-options\\.'`` sees them."""
        repos = list(repos)
        env = {"GL_USER": gl_user} if gl_user else {}
        p = self.run(
            "git-config",
            "-r",
            "%",
            "^gitolite-options\\.",
            input="".join(r + "\n" for r in repos),
            env=env,
        )
        out: dict[str, dict[str, str]] = {r: {} for r in repos}
        for line in p.stdout.splitlines():
            r, k, v = line.split("\t", 2)
            out[r][k.removeprefix("gitolite-options.")] = v
        return out
