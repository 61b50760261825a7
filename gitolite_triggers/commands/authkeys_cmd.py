"""``gitolite-triggers authorized-keys USER KEYTYPE KEY``: sshd's ``AuthorizedKeysCommand``.

sshd runs it (``AuthorizedKeysCommand <launcher> authorized-keys %u %t %k``, as
``AuthorizedKeysCommandUser``, the account) for every key a client offers, and reads
authorized_keys lines from its stdout. It prints exactly the line ssh-authkeys wrote for
that key (``command="... shell NAME",<options> <type> <key>``), found with one index
lookup (keyindex.py) instead of sshd's scan of every line.

Deny by default, and never a failure status: sshd treats a failing command as "no keys",
which is the answer, but logs it as an error at every login. So an unknown key, a USER
that is not this account (sshd asks for every account when the config is not in a
``Match User`` block), a malformed KEY, a broken rc or a missing or corrupt index all
print nothing and exit 0; the last three are logged with the reason (the log is the
admin's only view; sshd discards what we write to stderr). Nothing of ours reaches an
ssh client here: sshd only uses the line.

On the hot path (every login, every offered key): imports only ``os``, ``sys``, ``pwd``
and the hot-path modules (tests/test_hot_path.py).
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers import keyindex, paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc


def _help() -> None:
    """``--help``, as every command answers it (argparse's layout, without argparse)."""
    from gitolite_triggers.cliargs import Parser

    Parser(
        "gitolite-triggers authorized-keys",
        "sshd's AuthorizedKeysCommand (sshd_config: AuthorizedKeysCommand <launcher>\n"
        "authorized-keys %u %t %k): print the authorized_keys line of this key, or nothing.\n"
        "Always exits 0; problems go to the log. See docs/admin.md, 'Indexed key lookup'.",
        arguments=(
            ("USER", "the account sshd logs in (%u); another account gets nothing"),
            ("KEYTYPE", "the offered key's type (%t)"),
            ("KEY", "the offered key, base64 (%k)"),
        ),
        arguments_usage="USER KEYTYPE KEY",
    ).parse(["--help"])


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        _help()
        return 0
    rc: Rc | None = None
    try:
        from gitolite_triggers.rc import load_rc

        rc = load_rc(announce=False)  # on the last good rc: keys still work, silently
        line = answer(argv)
    except keyindex.IndexBroken as e:
        _log(rc, f"key index: {e}")
        return 0
    except Exception as e:  # deny by default, whatever went wrong
        import traceback

        _log(rc, f"{type(e).__name__}: {e}", traceback.format_exc())
        return 0
    if line:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0


def account_name() -> str:
    """The account we answer for: the one sshd runs us as (AuthorizedKeysCommandUser)."""
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def answer(argv: list[str]) -> str | None:
    """The line for ``USER KEYTYPE KEY``, or None; IndexBroken for a problem worth logging."""
    if len(argv) != 3:
        raise keyindex.IndexBroken(
            f"expected USER KEYTYPE KEY (sshd: %u %t %k), got {len(argv)} argument(s)"
        )
    user, ktype, blob = argv
    if user != account_name():
        return None  # another account's login: not ours to answer, not worth a log line
    if not keyindex.key_ok(ktype, blob):
        raise keyindex.IndexBroken("a malformed KEYTYPE or KEY (not sshd's %t %k)")
    return keyindex.lookup(paths.home_dir(), ktype, blob)


def _log(rc: Rc | None, *fields: str) -> None:
    from gitolite_triggers import glog

    try:
        glog.log(rc, "authorized-keys", "nothing answered", *fields)
    except Exception:  # a log that cannot be written must not fail sshd's call
        pass
