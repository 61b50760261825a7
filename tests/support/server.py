"""A sandboxed server account: a temp HOME holding the rc, rc.d, repos and admin base.

Tests run the real ``gitolite-triggers`` CLI in a subprocess with this environment, so
what they exercise is what an admin runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_RC_D = REPO_ROOT / "gitolite_triggers" / "rc.d"

# Variables a developer's or CI's environment might carry that would leak into a sandbox.
_SCRUB = ("GL_", "GIT_", "SSH_", "BUILDKITE_")


@dataclass
class Server:
    """One sandboxed hosting account."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def rc_file(self) -> Path:
        return self.home / ".gitolite.rc.yaml"

    @property
    def rc_d(self) -> Path:
        return self.home / ".gitolite.rc.d"

    @property
    def admin_base(self) -> Path:
        return self.home / ".gitolite"

    @property
    def repo_base(self) -> Path:
        return self.home / "repositories"

    def write_rc(self, text: str, name: str | None = None) -> Path:
        """Write the main rc (or an rc.d fragment called ``name``)."""
        path = self.rc_file if name is None else self.rc_d / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def log_text(self) -> str:
        """Every log file of this account, oldest month first, as one text ("" if none yet)."""
        return "".join(p.read_text() for p in sorted((self.admin_base / "logs").glob("*.log")))

    def cli(
        self,
        *args: str,
        input: bytes | str | None = None,
        check: bool = False,
        extra_env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``gitolite-triggers ARGS`` as this account; text output."""
        env = {**self.env, **(extra_env or {})}
        if isinstance(input, bytes):
            input = input.decode()
        return subprocess.run(
            [sys.executable, "-m", "gitolite_triggers", *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            cwd=self.home,
        )

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -c CODE`` as this account (for in-process API checks); text output."""
        return subprocess.run(
            [sys.executable, "-c", code],
            env=self.env,
            capture_output=True,
            text=True,
            cwd=self.home,
            timeout=120,
        )


def clean_env(home: Path) -> dict[str, str]:
    """os.environ minus GL_/GIT_/SSH_ variables, with HOME pointing at the sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env["HOME"] = str(home)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "Test User"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.com"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Lets rc entries name test callables as ``tests.support.callables:NAME``.
    env["PYTHONPATH"] = str(REPO_ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    return env


def make_server(home: Path, with_shipped_rc_d: bool = True) -> Server:
    home.mkdir(parents=True, exist_ok=True)
    server = Server(home=home, env=clean_env(home))
    if with_shipped_rc_d:
        shutil.copytree(SHIPPED_RC_D, server.rc_d)
    return server
