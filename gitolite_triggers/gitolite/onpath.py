"""Put the ``gitolite`` command where the account's shell finds it: ``~/bin/gitolite``.

gitolite's own install links ``~/bin/gitolite``, and its docs tell admins to have ``~/bin``
on PATH; sites' cron jobs and scripts call ``gitolite`` by that name. Inside our sessions
and hooks ``GL_BINDIR`` (the folder of our scripts, where ``gitolite`` lives beside
``gitolite-triggers``) is already first on PATH, so this link is for the account's own
shell. ``setup`` (and ``migrate``, which replaces gitolite's link after backing it up)
call ``link_gitolite_command``.
"""

from __future__ import annotations

import os


def script_path() -> str:
    """Our ``gitolite`` script: beside the interpreter, as every console script is."""
    from gitolite_triggers.rc import bin_dir

    return os.path.join(bin_dir(), "gitolite")


def link_gitolite_command(home: str, replace: bool = False) -> str | None:
    """Make ``HOME/bin/gitolite`` a symlink to our script; say what was done (None: nothing
    to do). Something else already there (a real gitolite's link) is left alone unless
    ``replace``, and the message says so."""
    script = script_path()
    if not os.access(script, os.X_OK):
        return None
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
