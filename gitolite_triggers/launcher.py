"""Lean launcher scripts for the hot path: the ssh forced command and the hook stubs.

Every fetch starts the forced command and every push starts the hooks, so their Python
start-up is paid per git operation. pip's console script costs more than it needs to:
the interpreter runs ``site`` (every ``.pth`` file in site-packages, ~4 ms) and the
script imports ``re`` (~3 ms) only to tidy ``argv[0]``. Together that is about a third
of our wrapper's overhead above plain git-shell.

So ``setup`` and ``ssh-authkeys`` write small scripts whose shebang runs this
interpreter with ``-I -S`` and which put the import path back themselves:

- ``-I`` (isolated): no ``PYTHON*`` variables, no user site-packages, no script folder
  on ``sys.path``. A forced command and git hooks should not be steerable by the
  environment an ssh client or a pusher may bring, so this is also the safer choice.
- ``-S`` (no ``site``): the directories ``site`` would have added for this package and
  its dependencies are written into the script when it is generated, appended after
  the standard library as ``site`` does. ``.pth`` files are not processed; the
  package's own folder is added directly, which also covers editable installs.

The paths are fixed when the script is written, just as the interpreter in its shebang
is: after moving the venv or changing Python, run ``gitolite-triggers setup`` again
(the script then says so instead of failing obscurely).
"""

from __future__ import annotations

import os
import sys

LAUNCHER_MARK = "# gitolite-triggers launcher"
SHELL_LAUNCHER = "gitolite-triggers"  # in $GL_ADMIN_BASE/bin, named as the command it runs


def import_path() -> list[str]:
    """What the launchers append to ``sys.path``: the package's folder, then site-packages.

    Only absolute, existing directories; the running script's folder and the current
    directory are left out on purpose (``-I`` keeps them out too).
    """
    import site

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if sys.flags.no_site:
        # Run from a lean launcher (a hook firing POST_COMPILE, `gitolite trigger`): without
        # `site`, sys.prefix is the base interpreter's, not the venv's, so getsitepackages()
        # would name the wrong folder; the launcher that started us appended the right ones.
        sites = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    else:
        sites = site.getsitepackages()
    candidates = [package_parent, *sites]
    user_site = site.getusersitepackages()
    if package_parent == user_site or package_parent.startswith(user_site + os.sep):
        candidates.append(user_site)  # a `pip install --user` of this package
    found: list[str] = []
    for path in candidates:
        if os.path.isabs(path) and os.path.isdir(path) and path not in found:
            found.append(path)
    return found


def render(module: str, call: str, purpose: str, prelude: str = "") -> str:
    """A launcher that imports ``main`` from ``module`` and exits with ``call``'s result.

    ``call`` is Python source using ``main`` and ``sys.argv``, e.g. ``main(sys.argv[1:])``;
    ``prelude`` (source lines, each ending in a newline) runs first.
    """
    paths = import_path()
    return (
        f"#!{sys.executable} -IS\n"
        f"{LAUNCHER_MARK} ({purpose}): written by `gitolite-triggers setup`; edits are overwritten.\n"
        "# -IS: isolated, and no `site` at start-up; see gitolite_triggers/launcher.py.\n"
        "import sys\n"
        f"{prelude}"
        f"sys.path += [p for p in {paths!r} if p not in sys.path]\n"
        "try:\n"
        f"    from {module} import main\n"
        "except ImportError as e:\n"
        "    sys.exit(\n"
        '        f"FATAL: gitolite-triggers cannot be imported from {sys.path} ({e}); "\n'
        "        \"was it moved or upgraded to another Python? Run 'gitolite-triggers setup' again.\"\n"
        "    )\n"
        f"sys.exit({call})\n"
    )


def write_if_changed(path: str, text: str) -> bool:
    """Atomically (re)write an executable script when its text differs; True if written."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text and os.access(path, os.X_OK):
                return False
    except OSError:
        pass
    from gitolite_triggers.atomicfile import write_atomic

    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, text.encode("utf-8"), 0o755)
    return True


def shell_launcher_path(admin_base: str) -> str:
    """Where the account's lean ``gitolite-triggers`` lives: ``$GL_ADMIN_BASE/bin``."""
    return os.path.join(admin_base, "bin", SHELL_LAUNCHER)


def write_shell_launcher(admin_base: str) -> str:
    """(Re)write the account's lean ``gitolite-triggers`` (the whole CLI); return its path.

    ssh-authkeys puts it in every ``command="..."``: the same commands as the installed
    ``gitolite-triggers`` script, started without ``site`` or ``re``.
    """
    path = shell_launcher_path(admin_base)
    write_if_changed(
        path,
        render("gitolite_triggers.cli", "main(sys.argv[1:])", "the ssh forced command"),
    )
    return path


AUTHKEYS_COMMAND = "authorized-keys"


def render_authkeys_launcher(home: str) -> str:
    """The root-owned sshd ``AuthorizedKeysCommand`` launcher of one account (its HOME fixed).

    It runs only ``authorized-keys`` (anything else is a usage error), with HOME set to the
    account's home named at setup: sshd gives the command the AuthorizedKeysCommandUser's
    home, the same folder on a normal install, but the launcher must not depend on it.
    """
    prelude = f"import os\nos.environ['HOME'] = {home!r}\n"
    call = (
        f"main(sys.argv[1:]) if sys.argv[1:2] == [{AUTHKEYS_COMMAND!r}] "
        f"else 'usage: ' + sys.argv[0] + ' {AUTHKEYS_COMMAND} USER KEYTYPE KEY'"
    )
    return render("gitolite_triggers.cli", call, "sshd's AuthorizedKeysCommand", prelude)
