"""atomicfile: the one temp-and-rename writer every rewritten file goes through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitolite_triggers.atomicfile import AS_OPEN, write_atomic


def test_modes_new_kept_explicit_and_as_open(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        target = tmp_path / "f"
        write_atomic(target, b"one")
        assert (target.read_bytes(), target.stat().st_mode & 0o777) == (b"one", 0o644)
        target.chmod(0o640)
        write_atomic(target, [b"t", b"wo"], fsync=False)  # None keeps the file's mode
        assert (target.read_bytes(), target.stat().st_mode & 0o777) == (b"two", 0o640)
        write_atomic(target, b"x", 0o600)
        assert target.stat().st_mode & 0o777 == 0o600
        os.umask(0o002)
        write_atomic(target, b"y", AS_OPEN)  # as open(path, "w") would create it
        assert target.stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no temp file left


def test_a_link_planted_at_the_temp_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    target = tmp_path / "target"
    (tmp_path / f".target.{os.getpid()}.tmp").symlink_to(victim)
    write_atomic(target, b"new", 0o600)
    assert victim.read_text() == "keep"
    assert target.read_bytes() == b"new" and not target.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target", "victim"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(target, [b"ok", "not bytes"])  # type: ignore[list-item]
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_an_unwritable_folder_raises_oserror_and_leaves_nothing(tmp_path: Path) -> None:
    """The rc cache's read-only-home tolerance relies on an OSError, never a half file.

    Root writes into any folder whatever its mode, so the place nobody can write here is
    a "folder" that is a regular file; a non-root run also tries a mode-0500 folder.
    """
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        write_atomic(blocker / "f", b"x")
    assert blocker.read_bytes() == b""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        try:
            with pytest.raises(PermissionError):
                write_atomic(folder / "f", b"x")
        finally:
            folder.chmod(0o700)
        assert list(folder.iterdir()) == []
