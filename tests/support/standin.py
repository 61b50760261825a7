"""Run the Buildkite stand-in (gitolite_triggers/demo/standin.py) on 127.0.0.1 for tests.

``running_standin()`` serves it in a thread of the test process (tests then drive faults
and read what it received through the in-process API); ``StandInProcess`` runs it as a
subprocess on a free port, for tests that need it outside the test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN_PATH = (
    REPO_ROOT / "contrib" / "buildkite_standin.py"
)  # the checkout's wrapper: kept working
TOKEN = "bkua_standin_test_token_0123456789abcdef"
ORG = "example-org"
PIPELINE = "git-pipeline-demo"


def standin_module() -> ModuleType:
    """The stand-in (it ships in the package, for ``gitolite-triggers demo``)."""
    from gitolite_triggers.demo import standin

    return standin


@contextmanager
def running_standin(
    pipelines: list[str] | None = None,
    token: str = TOKEN,
    scopes: list[str] | None = None,
    **kw: object,
) -> Iterator[object]:
    """A started ``StandIn`` on 127.0.0.1:0 in a thread; stopped afterwards."""
    mod = standin_module()
    si = mod.StandIn(
        "127.0.0.1",
        0,
        tokens={token: scopes if scopes is not None else list(mod.ALL_SCOPES)},
        pipelines=pipelines or [f"{ORG}/{PIPELINE}"],
        **kw,
    )
    si.start()
    try:
        yield si
    finally:
        si.stop()


class StandInProcess:
    """The stand-in as a subprocess (token passed in its environment, not argv)."""

    def __init__(
        self,
        pipelines: list[str] | None = None,
        token: str = TOKEN,
        extra_args: list[str] | None = None,
    ) -> None:
        self.pipelines = pipelines or [f"{ORG}/{PIPELINE}"]
        self.token = token
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> StandInProcess:
        argv = [sys.executable, str(STANDIN_PATH), "--port", "0"]
        for p in self.pipelines:
            argv += ["--pipeline", p]
        env = {**os.environ, "BUILDKITE_STANDIN_TOKEN": self.token}
        self.proc = subprocess.Popen(
            argv + self.extra_args,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout
        line = self.proc.stdout.readline()
        if "listening on " not in line:
            self.proc.kill()
            raise RuntimeError(f"stand-in did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1].split()[0]
        return self

    @property
    def api_url(self) -> str:
        return self.url + "/v2"

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- helpers for the buildkite tests


def wait_until(cond: object, timeout: float = 15.0, interval: float = 0.02) -> object:
    """Poll ``cond()`` until it returns something truthy; fail with a clear message."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = cond()  # type: ignore[operator]
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {cond!r}")
        time.sleep(interval)


def bk_rc(api_url: str, pipelines: str | None = None, extra: str = "") -> str:
    """A main rc with a buildkite section pointing at ``api_url`` and test-sized timings."""
    pipelines = pipelines or (
        f'    - repos: "foo|apps/.*"\n      org: {ORG}\n      pipeline: {PIPELINE}\n      branches: ["main", "release/*"]\n'
    )
    return (
        "buildkite:\n"
        f"  api_url: {api_url}\n"
        "  connect_timeout: 1\n"
        "  read_timeout: 1\n"
        "  poll_interval: 0.05\n"
        "  start_delay: 0\n"
        "  max_rate_limit_wait: 5\n"
        "  retry: {initial_delay: 0.05, max_delay: 0.2, give_up_after: 60}\n"
        f"{extra}"
        "  pipelines:\n"
        f"{pipelines}"
    )


class WorkTree:
    """A client work tree that pushes straight to a bare repo on disk (a local push).

    The push runs the repo's real hooks (our central stubs). With no ssh wrapper there
    is no GL_USER, so it is an admin's bypass push (GL_BYPASS_ACCESS_CHECKS=1).
    """

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = {**env, "GL_BYPASS_ACCESS_CHECKS": "1"}
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(self.path), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=check,
        )

    def commit(self, message: str, author: str = "Ann Author <ann@example.com>") -> str:
        name, _, email = author.partition(" <")
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">")}
        self.git("commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.git("rev-parse", "HEAD").stdout.strip()

    def push(
        self, remote: Path | str, *refspecs: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.git("push", "-q", str(remote), *refspecs, env=env, check=False)
