"""Shared fixtures: every test gets its own sandboxed HOME; nothing touches the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import Server, clean_env, make_server


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Server:
    """A fresh server account (HOME in a temp dir, shipped rc.d copied in).

    The test process's own environment is pointed at it too, so in-process calls of
    ``load_rc()`` and friends see the same account as the CLI subprocesses.
    """
    srv = make_server(tmp_path / "home")
    for key in list(__import__("os").environ):
        if key.startswith(("GL_", "GIT_", "SSH_", "BUILDKITE_")):
            monkeypatch.delenv(key)
    for key, value in clean_env(srv.home).items():
        monkeypatch.setenv(key, value)
    return srv


# Hypothesis: a fixed seed and a small budget in CI (seconds); `--hypothesis-profile=deep`
# for a long fuzzing run (docs/security.md).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "deep",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("ci")
