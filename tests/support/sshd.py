"""A real OpenSSH ``sshd`` on 127.0.0.1 for tests and benchmarks, plus a git/ssh client helper.

API (used by the shell, buildkite and bench tests)::

    from tests.support.sshd import Sshd, make_key, SshClient

    alice = make_key(tmp / "keys", "alice")          # ed25519 key pair, no passphrase
    # put alice.pub where ssh-authkeys reads it ($GL_ADMIN_BASE/keydir/alice.pub) and run
    # POST_COMPILE (or setup), which writes <server HOME>/.ssh/authorized_keys
    with Sshd(tmp / "sshd", home=server.home) as sshd:   # starts; stops on exit
        c = SshClient(sshd, alice)
        c.git("clone", c.url("foo"), str(tmp / "foo"))   # real git over real ssh
        r = c.ssh("info")                                 # ssh root@127.0.0.1 -p PORT info
        sshd.pid, sshd.port, sshd.log_text()

How the server account's HOME reaches the forced command (we run as root, and sshd
only logs in real accounts, so the login user is ``root``):

- ``AuthorizedKeysFile`` is the sandbox account's ``<home>/.ssh/authorized_keys``, exactly
  as ``post-compile/ssh-authkeys`` writes it (``command="<bindir>/gitolite-triggers shell
  USER",...``): nothing test-specific goes into that file.
- ``SetEnv HOME=<home>`` in this sshd's own config. OpenSSH (9.2 here) applies SetEnv
  after it has built the session's default environment, so it overrides root's HOME for
  the forced command (tests/test_ssh_fixture.py checks it). Extra variables can be passed
  with ``setenv={...}`` (e.g. a test's recording file); ``AcceptEnv GIT_PROTOCOL`` lets a
  client use git protocol v2 as against a normal server.
- ``StrictModes no``: the sandbox lives under /tmp (mode 1777), which sshd's ownership
  checks would otherwise refuse. ``MaxStartups``/``MaxSessions`` are raised for load tests.

sshd runs in the foreground (``-D``) as our child; ``stop()`` sends SIGTERM to that pid
only (then SIGKILL after a grace period) and waits until it is gone. sshd's own log
(``-E``) is in ``<workdir>/sshd.log``. ``/run/sshd`` (privilege separation dir) is created
if missing.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SshKey:
    """A client key pair: ``path`` (private) and ``pub`` (public key line)."""

    name: str
    path: Path

    @property
    def pub(self) -> str:
        return Path(str(self.path) + ".pub").read_text().strip()


def make_key(folder: Path, name: str, comment: str | None = None) -> SshKey:
    """Generate an ed25519 key pair ``folder/name`` (+ ``.pub``) without a passphrase."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment or name, "-f", str(path)],
            check=True,
            stdin=subprocess.DEVNULL,
        )
    path.chmod(0o600)
    return SshKey(name, path)


class Sshd:
    """One sshd process with its own config, host key, pidfile and log."""

    def __init__(
        self,
        workdir: Path,
        home: Path,
        authorized_keys: Path | None = None,
        setenv: dict[str, str] | None = None,
        extra_config: str = "",
    ) -> None:
        self.workdir = Path(workdir)
        self.home = Path(home)
        self.authorized_keys = authorized_keys or self.home / ".ssh" / "authorized_keys"
        self.setenv = {"HOME": str(self.home), **(setenv or {})}
        self.extra_config = extra_config
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def config_path(self) -> Path:
        return self.workdir / "sshd_config"

    @property
    def pidfile(self) -> Path:
        return self.workdir / "sshd.pid"

    @property
    def logfile(self) -> Path:
        return self.workdir / "sshd.log"

    def log_text(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def _config(self) -> str:
        for k, v in self.setenv.items():
            if any(c in v for c in ' "\n') or any(c in k for c in ' ="\n'):
                raise ValueError(f"SetEnv value for {k} cannot carry spaces or quotes")
        setenv = " ".join(f"{k}={v}" for k, v in self.setenv.items())
        return f"""\
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.workdir / "ssh_host_ed25519_key"}
PidFile {self.pidfile}
AuthorizedKeysFile {self.authorized_keys}
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers root
PermitUserEnvironment no
AcceptEnv GIT_PROTOCOL
SetEnv {setenv}
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 200
MaxSessions 100
LoginGraceTime 30
LogLevel VERBOSE
{self.extra_config}
"""

    def start(self, timeout: float = 15.0) -> Sshd:
        """Start sshd and wait until it answers with an SSH banner."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        key = self.workdir / "ssh_host_ed25519_key"
        if not key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                check=True,
                stdin=subprocess.DEVNULL,
            )
        for _attempt in range(5):
            self.port = free_port()
            self.config_path.write_text(self._config())
            check = subprocess.run(
                [SSHD, "-t", "-f", str(self.config_path)], capture_output=True, text=True
            )
            if check.returncode != 0:
                raise RuntimeError(f"sshd -t rejected {self.config_path}: {check.stderr}")
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-f", str(self.config_path), "-E", str(self.logfile)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready(timeout):
                return self
            self.stop()  # most likely the port was taken in between; try another
        raise RuntimeError(f"sshd did not start; log:\n{self.log_text()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop our sshd by its own pid and wait until it has exited."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


class SshClient:
    """Run ``ssh``/``git`` against an Sshd as the holder of one key."""

    def __init__(self, sshd: Sshd, key: SshKey, env: dict[str, str] | None = None) -> None:
        self.sshd = sshd
        self.key = key
        self.known_hosts = key.path.parent / f"known_hosts.{sshd.port}"
        self.base_env = dict(env if env is not None else os.environ)
        for k in [k for k in self.base_env if k.startswith(("GL_", "SSH_", "GIT_"))]:
            del self.base_env[k]
        self.base_env.setdefault("GIT_AUTHOR_NAME", "Test User")
        self.base_env.setdefault("GIT_AUTHOR_EMAIL", "test@example.com")
        self.base_env["GIT_COMMITTER_NAME"] = self.base_env["GIT_AUTHOR_NAME"]
        self.base_env["GIT_COMMITTER_EMAIL"] = self.base_env["GIT_AUTHOR_EMAIL"]
        self.base_env["GIT_CONFIG_NOSYSTEM"] = "1"

    def ssh_argv(self) -> list[str]:
        """The ssh client command with our key, port and throwaway known_hosts."""
        return [
            "ssh",
            "-i", str(self.key.path),
            "-p", str(self.sshd.port),
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=20",
        ]  # fmt: skip

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for git: GIT_SSH_COMMAND set to ``ssh_argv()`` (git runs it via sh)."""
        env = dict(self.base_env)
        env["GIT_SSH_COMMAND"] = " ".join(shlex.quote(a) for a in self.ssh_argv())
        env.update(extra)
        return env

    def url(self, repo: str) -> str:
        return f"ssh://root@127.0.0.1:{self.sshd.port}/{repo}"

    def ssh(
        self, command: str, input: bytes | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """``ssh root@127.0.0.1 COMMAND``: the wrapper sees COMMAND as SSH_ORIGINAL_COMMAND."""
        proc = subprocess.run(
            [*self.ssh_argv(), "root@127.0.0.1", command],
            input=input,
            capture_output=True,
            env=self.env(),
            timeout=timeout,
        )
        return subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )

    def git(
        self, *args: str, cwd: Path | str | None = None, timeout: float = 60, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``git ARGS`` with this key; text output, never raises unless ``check``."""
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            stdin=subprocess.DEVNULL,
        )


def install_keys(server: object, keys: list[SshKey], admin_base: Path | None = None) -> Path:
    """Put each key in ``$GL_ADMIN_BASE/keydir/<name>.pub`` and run POST_COMPILE, whose
    ``post-compile/ssh-authkeys`` writes ``<home>/.ssh/authorized_keys``; return that path.

    ``server`` is a tests.support.server.Server. Raises if the file lacks a key.
    """
    home = Path(server.home)  # type: ignore[attr-defined]
    keydir = (admin_base or home / ".gitolite") / "keydir"
    keydir.mkdir(parents=True, exist_ok=True)
    for key in keys:
        (keydir / f"{key.name}.pub").write_text(key.pub + "\n")
    result = server.cli("trigger", "POST_COMPILE")  # type: ignore[attr-defined]
    ak = home / ".ssh" / "authorized_keys"
    text = ak.read_text() if ak.exists() else ""
    missing = [k.name for k in keys if f' shell {k.name}"' not in text]
    if missing:
        raise RuntimeError(f"ssh-authkeys did not write keys for {missing}: {result.stderr}")
    return ak
