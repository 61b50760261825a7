"""Where gitolite's t/ suite comes from: a local snapshot, or Debian's signed source package.

The suite is gitolite's (GPL) and is never copied into this project. A developer machine may
have a snapshot of github.com/sitaramc/gitolite (a bare git dir: exported with ``git
archive``); a CI machine has no internet but the package registries, so there the source is
fetched as Debian ships it: ``apt-get source --download-only gitolite3`` from a deb-src list
made from the machine's own deb lines (apt checks the signed Release file and every
checksum), into a cache folder, then the upstream tarball (``*.orig.tar.gz``) is unpacked.
Needs root (apt), as the rest of the harness does.
"""

from __future__ import annotations

import glob
import os
import subprocess
import tarfile
from pathlib import Path

CACHE = Path(os.environ.get("GL_SUITE_CACHE", "/var/tmp/gitolite-triggers-suite-src"))
DEB_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")


def export(source: str, dest: Path) -> None:
    """Put the gitolite source tree (with t/ and src/) at ``dest``."""
    dest.mkdir(parents=True)
    if source and os.path.isdir(source) and os.path.exists(os.path.join(source, "HEAD")):
        archive = subprocess.run(
            ["git", "-C", source, "archive", "HEAD"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    tarball = source if source.endswith(".tar.gz") else debian_orig_tarball()
    _unpack_stripped(tarball, dest)


def _unpack_stripped(tarball: str, dest: Path) -> None:
    """Unpack ``gitolite-X.Y/...`` as ``...`` (members checked: no absolute or ``..`` path)."""
    with tarfile.open(tarball) as tf:
        members = []
        for m in tf.getmembers():
            parts = m.name.split("/", 1)
            if len(parts) < 2 or not parts[1]:
                continue
            m.name = parts[1]
            members.append(m)
        tf.extractall(dest, members=members, filter="data")


def debian_orig_tarball() -> str:
    """Debian's gitolite3 upstream tarball, downloaded once through apt into CACHE."""
    found = sorted(glob.glob(str(CACHE / "gitolite3_*.orig.tar.gz")))
    if found:
        return found[-1]
    CACHE.mkdir(parents=True, exist_ok=True)
    lists = CACHE / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    src_list = CACHE / "deb-src.sources"
    text = DEB_SOURCES.read_text() if DEB_SOURCES.exists() else _from_sources_list()
    src_list.write_text(text.replace("Types: deb\n", "Types: deb-src\n"))
    opts = [
        "-o", f"Dir::Etc::sourcelist={src_list}",
        "-o", "Dir::Etc::sourceparts=/nonexistent",
        "-o", f"Dir::State::Lists={lists}",
    ]  # fmt: skip
    subprocess.run(["apt-get", *opts, "update", "-qq"], check=True, capture_output=True)
    subprocess.run(
        ["apt-get", *opts, "source", "--download-only", "-qq", "gitolite3"],
        check=True,
        capture_output=True,
        cwd=CACHE,
    )
    found = sorted(glob.glob(str(CACHE / "gitolite3_*.orig.tar.gz")))
    if not found:
        raise RuntimeError("apt-get source gitolite3 gave no upstream tarball")
    return found[-1]


def _from_sources_list() -> str:
    """A one-line-style /etc/apt/sources.list as deb822 (older images)."""
    out = []
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        words = line.split()
        if len(words) >= 4 and words[0] == "deb":
            out.append(
                f"Types: deb\nURIs: {words[1]}\nSuites: {words[2]}\n"
                f"Components: {' '.join(words[3:])}\n"
            )
    return "\n".join(out)
