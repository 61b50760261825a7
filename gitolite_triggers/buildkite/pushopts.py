"""``git push -o ci.skip`` and ``-o ci.variable=KEY=VALUE``: what a push's options ask of CI.

Push options are the pusher's own text (hostile input): hooks/pushrecord.py bounds their
count and size; here each is checked (no control characters, KEY an environment
variable name, bounded lengths) and a bad one becomes a note for the pusher, never a
refused push. Options outside ``ci.`` belong to someone else and are left alone.
Loaded only for a push that has options.
"""

from __future__ import annotations

from gitolite_triggers.hooks.pushrecord import MAX_PUSH_OPTION_LEN, MAX_PUSH_OPTIONS

SKIP = "ci.skip"
VARIABLE = "ci.variable="
MAX_KEY = 128
_KEY_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_KEY_REST = _KEY_FIRST | frozenset("0123456789")
RESERVED_PREFIX = "BUILDKITE"  # the agent's own variables: a pusher never sets those
# Variables that change how the agent's own processes run (its checkout with its own
# credentials, its hooks, the shells and interpreters they start) before any pipeline
# step: git's (GIT_SSH_COMMAND...), the dynamic loader's, ssh's, shell startup files.
STEERING_PREFIXES = ("GIT_", "LD_", "DYLD_", "SSH_")
STEERING = frozenset(
    {
        "PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "PS4", "SHELLOPTS", "BASHOPTS",
        "PROMPT_COMMAND", "CDPATH", "TMPDIR", "NODE_OPTIONS", "NODE_PATH", "PYTHONPATH",
        "PYTHONHOME", "PYTHONSTARTUP", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT",
        "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    }
)  # fmt: skip


def steers_the_agent(key: str) -> bool:
    """Is ``key`` (any case) one a pusher may not set (see STEERING)?"""
    upper = key.upper()
    return upper.startswith(STEERING_PREFIXES) or upper in STEERING


def shown(text: str, limit: int = 60) -> str:
    """A client string safe to print back: printable ASCII only, cut."""
    out = "".join(c if 32 <= ord(c) < 127 else "?" for c in text[:limit])
    return out + ("..." if len(text) > limit else "")


def is_env_name(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY and key[0] in _KEY_FIRST and all(c in _KEY_REST for c in key)


class PushOptions:
    """What the options ask: ``skip``, ``variables`` (in order, last one wins) and ``notes``
    (one line each for the pusher, about options that were not taken)."""

    __slots__ = ("skip", "variables", "notes")

    def __init__(self) -> None:
        self.skip = False
        self.variables: dict[str, str] = {}
        self.notes: list[str] = []


def parse(options: list[str]) -> PushOptions:
    out = PushOptions()
    if len(options) > MAX_PUSH_OPTIONS:
        out.notes.append(f"too many push options: only the first {MAX_PUSH_OPTIONS} are read")
        options = options[:MAX_PUSH_OPTIONS]
    for opt in options:
        if not opt.startswith("ci."):
            continue
        if len(opt) > MAX_PUSH_OPTION_LEN:
            out.notes.append(
                f"push option {shown(opt, 30)!r} ignored: longer than {MAX_PUSH_OPTION_LEN} characters"
            )
        elif any(ord(c) < 32 or ord(c) == 127 for c in opt):
            out.notes.append(f"push option {shown(opt)!r} ignored: control characters")
        elif opt == SKIP:
            out.skip = True
        elif opt.startswith(VARIABLE):
            key, eq, value = opt[len(VARIABLE) :].partition("=")
            if not eq or not is_env_name(key):
                out.notes.append(
                    f"push option {shown(opt)!r} ignored: use ci.variable=KEY=VALUE, KEY a"
                    " variable name (letters, digits, _; not starting with a digit)"
                )
            elif key.upper().startswith(RESERVED_PREFIX):
                out.notes.append(
                    f"push option ci.variable={shown(key)} ignored: BUILDKITE* variables are the agent's"
                )
            elif steers_the_agent(key):
                out.notes.append(
                    f"push option ci.variable={shown(key)} ignored: it would change how the"
                    " agent itself runs (git, the loader, ssh, shells)"
                )
            else:
                out.variables[key] = value
        else:
            out.notes.append(
                f"push option {shown(opt)!r} ignored: unknown (ci.skip, ci.variable=KEY=VALUE)"
            )
    return out
