"""Run the Buildkite stand-in (contrib/buildkite_standin.py) on 127.0.0.1 for tests.

``running_standin()`` serves it in a thread of the test process (tests then drive faults
and read what it received through the in-process API); ``StandInProcess`` runs it as a
subprocess on a free port, for tests that need it outside the test process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN_PATH = REPO_ROOT / "contrib" / "buildkite_standin.py"
TOKEN = "bkua_standin_test_token_0123456789abcdef"
ORG = "example-org"
PIPELINE = "git-pipeline-demo"


def standin_module() -> ModuleType:
    """Import contrib/buildkite_standin.py (contrib is not a package)."""
    name = "buildkite_standin"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, STANDIN_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
