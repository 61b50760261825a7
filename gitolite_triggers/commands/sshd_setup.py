"""``gitolite-triggers setup --sshd-config --account NAME``: sshd's AuthorizedKeysCommand.

Run as root with the account's own installation (``~git/.venv/bin/gitolite-triggers``):
sshd runs an AuthorizedKeysCommand only if the file and every folder above it are owned
by root and writable by no one else (sshd_config(5)), so the account's own launcher in
``$GL_ADMIN_BASE/bin`` cannot be it. This writes a root-owned lean launcher (mode 0755,
``/usr/local/libexec/gitolite-triggers/authorized-keys-NAME`` unless ``--launcher``
says otherwise) that runs this installation's ``authorized-keys`` with the account's
HOME, checks the folders above it as sshd will, and prints the sshd_config lines. It
changes nothing of sshd's: the admin adds the lines and reloads (docs/admin.md).

The launcher runs as the account (AuthorizedKeysCommandUser), so pointing it at the
account's package (which the account can change) gives the account nothing it has not.
"""

from __future__ import annotations

import os
import stat

from gitolite_triggers.errors import Fatal

DEFAULT_DIR = "/usr/local/libexec/gitolite-triggers"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+-")


def _refuse(message: str) -> Fatal:
    return Fatal(f"setup --sshd-config: {message}", log=())  # the account's log is not ours


def _plain(text: str, what: str) -> str:
    """sshd_config splits on spaces and treats quotes and % specially: plain names only."""
    if not text or not set(text) <= _SAFE:
        raise _refuse(f"{what} {text!r} must be made of letters, digits and _./+- only")
    return text


def launcher_path(account: str, launcher: str | None) -> str:
    path = launcher or os.path.join(DEFAULT_DIR, f"authorized-keys-{account}")
    if not os.path.isabs(path):
        raise _refuse(f"--launcher {path!r} must be an absolute path")
    return _plain(os.path.normpath(path), "the launcher path")


def make_root_folders(folder: str) -> None:
    """Create the missing folders (root, 0755), then check every folder from / down as
    sshd's safe_path does (after resolving symlinks): root-owned, no group/other write."""
    missing: list[str] = []
    at = folder
    while not os.path.isdir(at):
        missing.append(at)
        at = os.path.dirname(at)
    for path in reversed(missing):
        os.mkdir(path, 0o755)
        os.chmod(path, 0o755)  # the umask (0077 for every command) would leave it 0700
    real = os.path.realpath(folder)
    parts = real.split("/")
    for i in range(len(parts), 0, -1):
        path = "/".join(parts[:i]) or "/"
        st = os.stat(path)
        if st.st_uid != 0 or st.st_mode & 0o022:
            raise _refuse(
                f"{path} is owned by uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o}: sshd "
                "runs an AuthorizedKeysCommand only below folders owned by root and writable by "
                "no one else; choose another --launcher"
            )


def sshd_lines(account: str, path: str) -> str:
    from gitolite_triggers.launcher import AUTHKEYS_COMMAND

    return (
        f"# gitolite-triggers: sshd finds {account}'s keys through the key index.\n"
        "# At the END of sshd_config (a Match block runs to the end of the file), then\n"
        "# `sshd -t` and reload sshd. Rolling back: remove these lines, reload (docs/admin.md).\n"
        f"Match User {account}\n"
        f"    AuthorizedKeysCommand {path} {AUTHKEYS_COMMAND} %u %t %k\n"
        f"    AuthorizedKeysCommandUser {account}\n"
    )


def run(account: str | None, home: str | None, launcher: str | None) -> int:
    """Install the account's root-owned launcher and print the sshd_config lines."""
    import pwd

    from gitolite_triggers.atomicfile import write_atomic
    from gitolite_triggers.launcher import render_authkeys_launcher

    if not account:
        raise _refuse("name the account sshd logs in, e.g. --account git")
    _plain(account, "the account")
    if os.geteuid() != 0:
        raise _refuse(
            "run it as root: sshd needs the AuthorizedKeysCommand and every folder above "
            "it owned by root"
        )
    try:
        entry = pwd.getpwnam(account)
    except KeyError:
        raise _refuse(f"there is no account {account!r}") from None
    home = os.path.abspath(home or entry.pw_dir)
    path = launcher_path(account, launcher)
    make_root_folders(os.path.dirname(path))
    write_atomic(path, render_authkeys_launcher(home).encode("utf-8"), 0o755)
    os.chown(path, 0, 0, follow_symlinks=False)
    print(f"wrote {path} (root:root 0755): {account}'s key lookup, HOME {home}")
    print(sshd_lines(account, path), end="")
    return 0
