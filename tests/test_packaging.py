"""A plain (not editable) install from a built wheel works away from the checkout.

This is the CI check that the wheel carries what the package needs at run time: the
shipped rc.d fragments (``setup`` copies them), the schemas, the trigger scripts and the
Buildkite stand-in ``demo`` runs. The wheel is built from a copy of the sources, installed
with ``--no-deps`` into a fresh venv (no system site-packages), and the dependencies are
taken from this test's own environment by linking them into that venv's site-packages
(not by a ``.pth`` line: the lean launchers run with ``-S`` and only see site-packages
itself). Then ``--version``, ``setup`` in a temp HOME and ``demo`` run from a temp
directory that is not the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from gitolite_triggers import __version__

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = (
    "setup.cfg",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "MANIFEST.in",
    "gitolite_triggers",
)
# What the test environment has that is not a dependency of the installed package.
NOT_DEPENDENCIES = (
    "gitolite_triggers",
    "__editable__",
    "pip",
    "setuptools",
    "_distutils_hack",
    "distutils-precedence",
    "pkg_resources",
    "__pycache__",
    "wheel",
)


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload]
    assert r.returncode == 0, f"{cmd}: {r.stdout[-2000:]}{r.stderr[-2000:]}"
    return r


def build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    try:
        import setuptools  # noqa: F401
        import wheel  # noqa: F401

        isolation = ["--no-build-isolation"]  # offline: the test extra has both
    except ImportError:
        isolation = []
    dist = tmp / "dist"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            *isolation,
            "-w",
            str(dist),
            str(src),
        ]
    )
    (wheel_file,) = dist.glob("gitolite_triggers-*.whl")
    return wheel_file


def make_venv(tmp: Path, wheel_file: Path) -> Path:
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel_file),
        ]
    )
    ours = Path(sysconfig.get_paths()["purelib"])
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    for entry in ours.iterdir():
        if not entry.name.startswith(NOT_DEPENDENCIES) and not entry.name.endswith(".pth"):
            (site / entry.name).symlink_to(entry)
    return venv


def test_a_built_wheel_installs_and_runs_setup_and_demo_outside_the_checkout(
    tmp_path: Path,
) -> None:
    venv = make_venv(tmp_path, build_wheel(tmp_path))
    gt = str(venv / "bin" / "gitolite-triggers")
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
    }
    (tmp_path / "home").mkdir()

    assert run([gt, "--version"], env=env, cwd=away).stdout == f"gitolite-triggers {__version__}\n"
    where = run(
        [str(venv / "bin" / "python"), "-c", "import gitolite_triggers as g; print(g.__file__)"],
        env=env,
        cwd=away,
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not the checkout's

    key = tmp_path / "admin"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "admin", "-f", str(key)], env=env)
    run([gt, "setup", "--pubkey", f"{key}.pub"], env=env, cwd=away)
    rc_d = tmp_path / "home" / ".gitolite.rc.d"
    assert sorted(p.name for p in rc_d.glob("*.yaml")) == ["10-defaults.yaml", "20-buildkite.yaml"]
    assert (
        "post-compile/ssh-authkeys"
        in run([gt, "rc", "show", "POST_COMPILE"], env=env, cwd=away).stdout
    )
    assert (tmp_path / "home" / ".ssh" / "authorized_keys").read_text().count("shell admin") == 1

    r = run([gt, "demo"], env=env, cwd=away)
    assert "Done: one push, triggers fired, build #1 created" in r.stdout, r.stdout[-2000:]
