"""AUTH_OPTIONS: the sshd options that may go on every authorized_keys line, and why not.

The rc's schema check (rc/validate.py) and ``post-compile/ssh-authkeys`` (which refuses a
bad value again before writing) both ask ``auth_options_problem``; it lives here, below
both, so the rc's validation does not import a POST_COMPILE program.
"""

from __future__ import annotations

import re

# AUTH_OPTIONS: sshd's option syntax (sshd(8), AUTHORIZED_KEYS FILE FORMAT): options
# separated by commas, no spaces except inside double quotes. Allowed here: the flags
# below and ``name="value"`` for the options that take one, the value printable ASCII
# without a space, '"' or '\\' (so a value can neither end the quotes nor the line).
# Not allowed: ``command`` (the forced command is ours), ``cert-authority`` and
# ``principals`` (they would make every user's key a certificate authority).
FLAG_OPTIONS = (
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-user-rc",
    "no-X11-forwarding",
    "no-x11-forwarding",
    "restrict",
    "agent-forwarding",
    "port-forwarding",
    "pty",
    "user-rc",
    "X11-forwarding",
    "x11-forwarding",
    "no-touch-required",
    "verify-required",
)
VALUE_OPTIONS = ("environment", "expiry-time", "from", "permitlisten", "permitopen", "tunnel")
_REFUSED_OPTIONS = {
    "command": "the forced command is gitolite-triggers' own",
    "cert-authority": "it would make every user's key a certificate authority",
    "principals": "it only goes with cert-authority",
}
_VALUE = r'"[!#-\[\]-~]+"'
_ONE = f"(?:{'|'.join(FLAG_OPTIONS)}|(?:{'|'.join(VALUE_OPTIONS)})={_VALUE})"
# The same text is the schema's AUTH_OPTIONS pattern (a test keeps them equal). JSON
# Schema patterns are searched with Python's re: '$(?!\n)' refuses the final newline
# that '$' alone would let through (a YAML folded scalar, ``AUTH_OPTIONS: >``, ends in one).
AUTH_OPTIONS_PATTERN = f"^(?:{_ONE}(?:,{_ONE})*)?$(?!\\n)"
_AUTH_OPTIONS = re.compile(AUTH_OPTIONS_PATTERN)


def has_control(text: str) -> bool:
    """Any C0/C1 control character or DEL (a newline, a carriage return, an escape...)."""
    if text.isprintable():  # no Cc, Zl or Zp character: the common case, in C
        return False
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in text)


def auth_options_problem(options: object) -> str | None:
    """Why AUTH_OPTIONS cannot go onto an authorized_keys line, or None when it can."""
    if not isinstance(options, str):
        return f"it must be a string, not {type(options).__name__}"
    if _AUTH_OPTIONS.fullmatch(options) and not has_control(options):
        return None
    if "\n" in options or "\r" in options:
        return (
            "it contains a line break (a YAML '>' or '|' block adds one at the end): each key "
            "would be written on a line of its own, without command="
        )
    if has_control(options):
        return "it contains a control character"
    if any(c.isspace() for c in options):
        return "it contains white space (sshd allows none between options)"
    for opt in options.split(","):
        name, eq, value = opt.partition("=")
        if name in _REFUSED_OPTIONS:
            return f"'{name}' is not allowed ({_REFUSED_OPTIONS[name]})"
        if name not in FLAG_OPTIONS + VALUE_OPTIONS:
            return f"'{name}' is not an sshd option allowed here (allowed: {', '.join(FLAG_OPTIONS + VALUE_OPTIONS)})"
        if name in FLAG_OPTIONS and eq:
            return f"'{name}' takes no value"
        if name in VALUE_OPTIONS and not re.fullmatch(_VALUE, value):
            return (
                f"'{name}' needs a value in double quotes, without spaces, quotes or "
                "backslashes inside"
            )
    return "it is not a comma-separated list of sshd options"
