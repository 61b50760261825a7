"""One private sshd on 127.0.0.1 serving the three bench accounts, and the git client for it.

This reuses the SHELL engineer's ``tests/support/sshd.py`` (start, readiness poll, stop by
pid, client ssh options) and changes only the config: that helper serves one ``root``
login with ``SetEnv HOME=<sandbox>``, while an admin's box (and this benchmark) has real
service accounts, each with its own HOME and ``~/.ssh/authorized_keys`` as the two
ssh-authkeys programs wrote it. So: ``AllowUsers`` the three accounts,
``AuthorizedKeysFile .ssh/authorized_keys`` and the default ``StrictModes yes``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

from vs_gitolite.pyenv import REPO_ROOT

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.sshd import SshClient, Sshd, SshKey


class BenchSshd(Sshd):
    """The test helper's sshd, configured for several real accounts."""

    def __init__(self, workdir: Path, logins: list[str]) -> None:
        super().__init__(workdir, home=workdir)
        self.logins = logins

    def _config(self) -> str:
        return f"""\
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.workdir / "ssh_host_ed25519_key"}
PidFile {self.pidfile}
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers {" ".join(self.logins)}
PermitUserEnvironment no
AcceptEnv GIT_PROTOCOL
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 200
MaxSessions 100
LogLevel INFO
"""


class Client(SshClient):
    """git/ssh as the holder of ``key``, logging in as ``login``."""

    def __init__(self, sshd: Sshd, key_path: Path, login: str, env: dict[str, str]) -> None:
        super().__init__(sshd, SshKey(key_path.name, key_path), env=env)
        self.login = login

    def url(self, repo: str) -> str:
        return f"ssh://{self.login}@127.0.0.1:{self.sshd.port}/{repo}"

    def timed_git(
        self, *args: str, cwd: Path | None = None
    ) -> tuple[float, subprocess.CompletedProcess[bytes]]:
        started = time.perf_counter()
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
        return time.perf_counter() - started, proc

    def describe(self) -> str:
        return " ".join(shlex.quote(a) for a in self.ssh_argv())
