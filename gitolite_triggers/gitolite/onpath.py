"""Put the ``gitolite`` command where the account's shell finds it: ``~/bin/gitolite``.

gitolite's own install links ``~/bin/gitolite``, and its docs tell admins to have ``~/bin``
on PATH; sites' cron jobs and scripts call ``gitolite`` by that name. Inside our sessions
and hooks ``GL_BINDIR`` (the folder of our scripts, where ``gitolite`` lives beside
``gitolite-triggers``) is already first on PATH, so this link is for the account's own
shell; it points at a lean launcher in ``$GL_ADMIN_BASE/bin`` beside the forced command's.
``gitolite setup`` calls ``link_gitolite_command`` (and ``migrate`` may, with ``replace``
after backing gitolite's link up).
"""

from __future__ import annotations

import os


def write_launcher(admin_base: str) -> str:
    """(Re)write ``$GL_ADMIN_BASE/bin/gitolite``, a lean launcher (``python -IS``, as the
    forced command's: launcher.py) of this command; return its path. Scripts that call
    ``gitolite access`` per repo pay its start-up each time."""
    from gitolite_triggers.launcher import render, write_if_changed

    path = os.path.join(admin_base, "bin", "gitolite")
    write_if_changed(
        path,
        render("gitolite_triggers.gitolite.main", "main(sys.argv[1:])", "the gitolite command"),
    )
    return path


def link_gitolite_command(home: str, admin_base: str, replace: bool = False) -> str | None:
    """Write the launcher and make ``HOME/bin/gitolite`` a symlink to it; say what was done
    (None: nothing to do). Something else already there (a real gitolite's link) is left
    alone unless ``replace``, and the message says so."""
    script = write_launcher(admin_base)
    link = os.path.join(home, "bin", "gitolite")
    if os.path.islink(link) and os.readlink(link) == script:
        return None
    if os.path.lexists(link) and not replace:
        return f"left {link} alone (not ours); our gitolite command is {script}"
    os.makedirs(os.path.dirname(link), mode=0o755, exist_ok=True)
    tmp = f"{link}.{os.getpid()}.tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(script, tmp)
    os.replace(tmp, link)
    return f"linked {link} -> {script} (have ~/bin on PATH)"
