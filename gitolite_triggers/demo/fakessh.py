"""A stand-in for ``ssh host COMMAND`` that does what sshd would do with our authorized_keys.

The demo must run on a machine without an sshd of its own, yet show the real path: it
finds the key given with ``-i`` in the server account's ``~/.ssh/authorized_keys`` (the
block that ``post-compile/ssh-authkeys`` wrote), and runs that line's forced
``command="..."`` with ``SSH_ORIGINAL_COMMAND`` set, as sshd does. An unknown key is
refused like sshd refuses it. Git calls it through ``GIT_SSH_COMMAND`` with
``GIT_SSH_VARIANT=simple`` (arguments: ``[-i KEY] host command``).

The server account is named by ``DEMO_SERVER_HOME``. Tests use a real sshd instead.
"""

from __future__ import annotations

import os
import shlex
import sys


def forced_command(authorized_keys: str, pubkey: str) -> str | None:
    """The ``command="..."`` of the authorized_keys line carrying ``pubkey``'s key blob."""
    want = pubkey.split()[1]
    with open(authorized_keys, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or want not in line.split():
                continue
            words = shlex.split(line, posix=True)
            for word in words:
                for option in word.split(","):
                    if option.startswith("command="):
                        return option[len("command=") :]
            return None
    return None


def main(argv: list[str]) -> int:
    key = None
    if argv[:1] == ["-i"]:
        key, argv = argv[1], argv[2:]
    if len(argv) < 1 or key is None:
        print("fakessh: usage: fakessh -i KEY host [command]", file=sys.stderr)
        return 255
    command = " ".join(argv[1:])
    home = os.environ["DEMO_SERVER_HOME"]
    with open(key + ".pub", encoding="utf-8") as f:
        pubkey = f.read()
    forced = forced_command(os.path.join(home, ".ssh", "authorized_keys"), pubkey)
    if forced is None:
        print("Permission denied (publickey).", file=sys.stderr)
        return 255
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GL_", "GIT_DIR", "DEMO_"))}
    env.update(
        HOME=home, SSH_ORIGINAL_COMMAND=command, SSH_CONNECTION="127.0.0.1 50000 127.0.0.1 22"
    )
    args = shlex.split(forced)
    os.execve(args[0], args, env)
    return 255  # not reached


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
