"""An installation of gitolite-triggers that the benchmark's unprivileged accounts can run.

The developer venv's interpreter may live where other users cannot reach (pyenv under
/root, mode 0700). An admin would ``pip install`` the package into a venv the service
account can read, so that is what we do when needed: a venv made from a world-readable
Python >= 3.11, with the package installed from this checkout (not editable: a snapshot,
as an admin has). It is cached between runs and reinstalled only when the package's
files changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from vs_gitolite.accounts import Account

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHONS = ("/usr/bin/python3.11", "/usr/bin/python3", "/usr/local/bin/python3")
DEPS = ("PyYAML>=6", "requests>=2.28", "jsonschema>=4.18", "google-re2>=1.1")
DEP_MODULES = "yaml, jsonschema, requests, re2"  # what DEPS installs, as imports


def _source_stamp() -> str:
    """A hash of every file that goes into the installed package."""
    digest = hashlib.sha256()
    for base in (REPO_ROOT / "gitolite_triggers",):  # rc.d and the stand-in are inside it
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO_ROOT)).encode())
                digest.update(path.read_bytes())
    for name in ("setup.cfg", "pyproject.toml"):
        digest.update((REPO_ROOT / name).read_bytes())
    return digest.hexdigest()


def _probe(account: Account, python: str, code: str) -> bool:
    """Whether ``account`` can run ``python -c code`` (the exec itself may be refused)."""
    try:
        return account.run([python, "-c", code], check=False, cwd=Path("/")).returncode == 0
    except OSError:
        return False


def _works_for(account: Account, python: str) -> bool:
    return _probe(account, python, f"import gitolite_triggers, {DEP_MODULES}")


def ours_bindir(account: Account, cache_dir: Path, log=print) -> Path:
    """The bin/ dir holding a ``gitolite-triggers`` that ``account`` can run."""
    here = Path(sys.executable).parent
    if (here / "gitolite-triggers").exists() and _works_for(account, sys.executable):
        return here
    venv = cache_dir / "venv"
    python = venv / "bin" / "python"
    stamp_file = venv / ".gitolite-triggers-stamp"
    stamp = _source_stamp()
    if (
        python.exists()
        and stamp_file.exists()
        and stamp_file.read_text() == stamp
        and _works_for(account, str(python))
    ):
        return venv / "bin"
    if not (python.exists() and _works_for_base(account, str(python))):
        base = next((p for p in SYSTEM_PYTHONS if _good_base(account, p)), None)
        if base is None:
            raise SystemExit(
                f"no Python >= 3.11 that {account.name} can run; tried {', '.join(SYSTEM_PYTHONS)}"
            )
        shutil.rmtree(venv, ignore_errors=True)
        log(f"making a venv for the bench accounts with {base} in {venv}")
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *DEPS],
            check=True,
        )
    log(f"installing gitolite-triggers from {REPO_ROOT} into {venv}")
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--force-reinstall",
            str(REPO_ROOT),
        ],
        check=True,
        env={**os.environ, "PIP_NO_CACHE_DIR": "1"},
    )
    stamp_file.write_text(stamp)
    for path in [cache_dir, *cache_dir.rglob("*")]:
        if path.is_dir():
            path.chmod(path.stat().st_mode | 0o755)
    if not _works_for(account, str(python)):
        raise SystemExit(f"{account.name} cannot import gitolite_triggers from {venv}")
    return venv / "bin"


def _good_base(account: Account, python: str) -> bool:
    return os.path.exists(python) and _probe(
        account, python, "import sys, venv; assert sys.version_info >= (3, 11)"
    )


def _works_for_base(account: Account, python: str) -> bool:
    return _probe(account, python, f"import {DEP_MODULES}")
