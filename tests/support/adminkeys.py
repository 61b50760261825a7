"""Real ssh key pairs for the admin/setup/ssh-authkeys tests (ssh-keygen, ed25519: fast)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import sshd

REPO_ROOT = Path(__file__).resolve().parents[2]
POST_COMPILE_DIR = REPO_ROOT / "gitolite_triggers" / "triggers" / "post-compile"


def shell_script(admin_base: Path) -> str:
    """The forced command's script ssh-authkeys writes: the account's lean launcher."""
    return str(admin_base / "bin" / "gitolite-triggers")


def make_key(folder: Path, name: str, comment: str | None = None) -> Path:
    """Create ``folder/name`` (private) and ``folder/name.pub``; return the .pub path."""
    return Path(str(sshd.make_key(folder, name, comment).path) + ".pub")


def key_blob(pub: Path) -> str:
    """The base64 part of a public key file."""
    return pub.read_text().split()[1]


def run_post_compile(
    env: dict[str, str], program: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a built-in POST_COMPILE program the way the runner does (this interpreter)."""
    return subprocess.run(
        [sys.executable, str(POST_COMPILE_DIR / program), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
