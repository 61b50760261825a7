"""Tell a private key from a public one, without ever showing either.

Why: ``cp ~/.ssh/id_ed25519 keydir/carol.pub`` is an easy mistake, and the secret key is
then in the admin repo for everyone who can clone it. The admin repo's update hook
refuses a push that brings one into keydir/ (adminpush.py), ``post-compile/ssh-authkeys``
and ``setup --pubkey`` refuse such a file; all say the same thing, naming the file only.

Recognised: PEM (``-----BEGIN [RSA |EC |DSA |ENCRYPTED ]PRIVATE KEY-----``), OpenSSH's own
(``-----BEGIN OPENSSH PRIVATE KEY-----``), ssh.com/RFC 4716 (``---- BEGIN SSH2 ENCRYPTED
PRIVATE KEY ----``) and PuTTY (``PuTTY-User-Key-File-``) files, anywhere in the file.
"""

from __future__ import annotations

PRIVATE_KEY_MESSAGE = "this is a PRIVATE key: remove it from the admin repo's history"
ADVICE = (
    "and make a new key pair: the secret key has left its owner's machine "
    "(only the .pub file of a key pair belongs in keydir/)"
)


def is_private_key(data: bytes) -> bool:
    """Whether ``data`` holds a private key in one of the formats above."""
    if b"PuTTY-User-Key-File-" in data:
        return True
    at = data.find(b"PRIVATE KEY")
    while at != -1:
        # "BEGIN" within the same header line, before "PRIVATE KEY"
        start = data.rfind(b"\n", 0, at) + 1
        head = data[start:at]
        if b"BEGIN" in head and head.lstrip(b"\xef\xbb\xbf \t").startswith(b"----"):
            return True
        at = data.find(b"PRIVATE KEY", at + 1)
    return False
