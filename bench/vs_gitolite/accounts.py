"""The three unix accounts the benchmark's sshd serves: gitolite, ours, and the git-shell floor.

sshd picks the account by login name, not by key, and every account needs its own HOME
(gitolite and gitolite-triggers both keep their whole state there). Distinct system users
are what an admin would set up, so that is what we measure; a single root account with
``command="env HOME=..."`` lines would add an exec to every request of one side only.

The accounts are created once (``useradd --system``) and re-pointed at this run's work
directory each time (``usermod --home``). Their password field is ``*`` (no password, but
not "locked": OpenSSH refuses public-key logins to ``!``-locked accounts when PAM is off).
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Account:
    """One server account: unix user, its home and login shell."""

    name: str
    home: Path
    shell: str

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid

    @property
    def gid(self) -> int:
        return pwd.getpwnam(self.name).pw_gid

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A clean login-like environment for this account (what sshd would give it)."""
        env = {
            "HOME": str(self.home),
            "USER": self.name,
            "LOGNAME": self.name,
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "SHELL": self.shell,
        }
        env.update(extra or {})
        return env

    def run(
        self,
        argv: list[str],
        *,
        extra_env: dict[str, str] | None = None,
        input: bytes | None = None,
        check: bool = True,
        cwd: Path | None = None,
        timeout: float = 3600,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``argv`` as this account (setuid in the child, no runuser/sudo in between)."""
        return subprocess.run(
            argv,
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            env=self.env(extra_env),
            input=input,
            capture_output=True,
            check=check,
            cwd=str(cwd or self.home),
            timeout=timeout,
        )


def ensure_account(name: str, home: Path, shell: str) -> Account:
    """Create the system user if missing, then point it at ``home`` with ``shell``."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                str(home),
                "--shell",
                shell,
                name,
            ],
            check=True,
            capture_output=True,
        )
    subprocess.run(
        ["usermod", "--home", str(home), "--shell", shell, "--password", "*", name],
        check=True,
        capture_output=True,
    )
    account = Account(name, home, shell)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, account.uid, account.gid)
    home.chmod(0o755)
    return account


def chown_tree(path: Path, account: Account) -> None:
    """Give ``path`` and everything below it to ``account``."""
    os.chown(path, account.uid, account.gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), account.uid, account.gid, follow_symlinks=False)


def readable_by(account: Account, path: Path) -> bool:
    """Whether ``account`` can read ``path`` (every parent must be searchable)."""
    result = account.run(["test", "-r", str(path)], check=False)
    return result.returncode == 0
