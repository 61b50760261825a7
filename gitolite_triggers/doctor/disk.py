"""doctor: free space and inodes where the server writes, and leftover temp files.

Space: a full file system is the fault issue 15 starts from (an admin push, a log line,
a spool record that cannot be written). Temp files: every atomic write uses a temp name
``.NAME.PID.tmp`` (atomicfile.py) and removes it on failure; one whose writer is gone
(kill -9, a power cut) is litter, removed by ``--fix`` unless someone holds a lock on it.
"""

from __future__ import annotations

import os

from gitolite_triggers import paths
from gitolite_triggers.adminstage import pid_alive
from gitolite_triggers.doctor import Problem
from gitolite_triggers.rc import Rc

MIN_FREE_BYTES = 100 * 1024 * 1024
MIN_FREE_SHARE = 0.02  # of the file system
MIN_FREE_INODES = 1000


def temp_writer(name: str) -> int | None:
    """The writer's pid in an atomicfile temp name ``.NAME.PID.tmp``, else None."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    stem, _, pid = name[: -len(".tmp")].rpartition(".")
    return int(pid) if stem and pid.isdigit() and pid.isascii() else None


def _places(rc: Rc) -> list[tuple[str, str]]:
    places = [("HOME", paths.home_dir()), ("the repo base", rc.repo_base)]
    places.append(("the admin base", rc.admin_base))
    if rc.buildkite:
        from gitolite_triggers.buildkite import config

        places.append(("the Buildkite spool", config.settings(rc).spool_dir))
    return [(name, path) for name, path in places if os.path.isdir(path)]


def check_space(rc: Rc) -> list[Problem]:
    out = []
    seen: set[int] = set()
    for name, path in _places(rc):
        st = os.statvfs(path)
        if st.f_fsid in seen:
            continue
        seen.add(st.f_fsid)
        free = st.f_bavail * st.f_frsize
        total = st.f_blocks * st.f_frsize
        if free < MIN_FREE_BYTES or (total and free / total < MIN_FREE_SHARE):
            out.append(
                Problem(
                    f"{name} ({path}) has {free // (1024 * 1024)} MiB free of "
                    f"{total // (1024 * 1024)} MiB: writes (pushes, logs) will start failing",
                    f"free space on the file system of {path}",
                )
            )
        if st.f_files and st.f_favail < MIN_FREE_INODES:
            out.append(
                Problem(
                    f"{name} ({path}) has {st.f_favail} inodes free",
                    f"remove files on the file system of {path}",
                )
            )
    return out


def _folders(rc: Rc) -> list[str]:
    """Where atomic writes happen: HOME, ~/.ssh, the admin base and its conf/, each repo
    (gl-perms, gl-creator), each repo's hooks/ (re-linking), the spool's tmp/."""
    from gitolite_triggers.repos import physical_repos, repo_dir

    home = paths.home_dir()
    folders = [home, os.path.join(home, ".ssh"), rc.admin_base]
    folders += [os.path.join(rc.admin_base, d) for d in ("conf", "hooks/common", "bin")]
    for repo in physical_repos(rc):
        folders += [repo_dir(rc, repo), os.path.join(repo_dir(rc, repo), "hooks")]
    return folders


def _locked(path: str) -> bool:
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _plain_file(path: str) -> bool:
    """atomicfile's temps are regular files: a folder or symlink of that name is not
    litter of ours (and is never followed)."""
    import stat

    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def stale_temps(rc: Rc) -> list[str]:
    out = []
    for folder in _folders(rc):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            pid = temp_writer(name)
            if pid is not None and not pid_alive(pid):
                path = os.path.join(folder, name)
                if _plain_file(path) and not _locked(path):
                    out.append(path)
    return sorted(out)


def check_leftovers(rc: Rc) -> list[Problem]:
    temps = stale_temps(rc)
    if not temps:
        return []
    shown = ", ".join(temps[:5]) + (f" and {len(temps) - 5} more" if len(temps) > 5 else "")
    return [
        Problem(
            f"{len(temps)} temp file(s) left by writers that are gone: {shown}",
            "gitolite-triggers doctor --fix",
            lambda: _remove(temps),
        )
    ]


def _remove(temps: list[str]) -> None:
    for path in temps:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
