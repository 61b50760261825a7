"""What the real-sshd test modules share: a world (account, keys, sshd) and its fixture.

Each module builds its own world in ``__init__`` (its rc, conf and sshd settings differ);
the ways in (an ssh client per user, the log, a repo's folder) and the module fixture's
end (stop sshd, check it is gone) are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from tests.support.server import Server
from tests.support.sshd import SshClient, Sshd, SshKey, pid_alive


class SshWorld:
    """A server account served by a real sshd; subclasses set the three attributes."""

    server: Server
    keys: dict[str, SshKey]
    sshd: Sshd

    def client(self, user: str) -> SshClient:
        return SshClient(self.sshd, self.keys[user])

    def log(self) -> str:
        return self.server.log_text()

    def repo(self, name: str) -> Path:
        return self.server.repo_base / f"{name}.git"


W = TypeVar("W", bound=SshWorld)


def serve(world: W) -> Iterator[W]:
    """A module fixture's body: yield the world, then stop its sshd and check it is gone."""
    pid = world.sshd.pid
    try:
        yield world
    finally:
        world.sshd.stop()
        assert pid is not None and not pid_alive(pid)
