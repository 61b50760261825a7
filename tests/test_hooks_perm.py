"""The update hook's perm letter (gitolite's Hooks/Update.pm; docs/shell.md), on a real repo's history."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitolite_triggers.hooks.entry import perm_letter

Z = "0" * 40


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """base -> a -> b on main; side branch from base; merge of side into b."""
    repo = tmp_path / "r"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    for k, v in {"user.name": "T", "user.email": "t@example.com"}.items():
        git(repo, "config", k, v)
    c = {}
    for name in ("base", "a", "b"):
        git(repo, "commit", "-q", "--allow-empty", "-m", name)
        c[name] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "side", c["base"])
    git(repo, "commit", "-q", "--allow-empty", "-m", "side")
    c["side"] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "side")
    c["merge"] = git(repo, "rev-parse", "HEAD")
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    return c


def test_letters(history: dict[str, str]) -> None:
    c = history
    h = "refs/heads/main"
    assert perm_letter(h, c["a"], c["b"], {}) == "W"  # fast-forward
    assert perm_letter(h, c["b"], c["a"], {}) == "+"  # rewind
    assert perm_letter(h, c["b"], c["side"], {}) == "+"  # not a descendant
    assert perm_letter(h, Z, c["a"], {}) == "W"  # create
    assert perm_letter(h, c["a"], Z, {}) == "+"  # delete
    assert perm_letter("refs/tags/v1", Z, c["a"], {}) == "W"  # new tag
    assert perm_letter("refs/tags/v1", c["a"], c["b"], {}) == "+"  # tag moved, even forward
    assert perm_letter(h, Z, c["a"], {"CREATE_IS_C": "1"}) == "C"
    assert perm_letter(h, c["a"], Z, {"DELETE_IS_D": "1"}) == "D"
    assert perm_letter(h, c["a"], c["b"], {"CREATE_IS_C": "1", "DELETE_IS_D": "1"}) == "W"
    assert perm_letter(h, c["b"], c["merge"], {"MERGE_CHECK": "1"}) == "WM"
    assert perm_letter(h, c["a"], c["b"], {"MERGE_CHECK": "1"}) == "W"
    assert perm_letter(h, c["b"], c["merge"], {"MERGE_CHECK": "0"}) == "W"


def test_merge_check_ignores_create(
    history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert perm_letter("refs/heads/x", Z, history["merge"], {"MERGE_CHECK": "1"}) == "W"
    assert "ignored for purposes of merge-check" in capsys.readouterr().err
