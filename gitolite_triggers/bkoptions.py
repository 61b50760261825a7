"""The per-repo ``option buildkite.*`` keys of gitolite.conf and the one check of their values.

A typo in such an option used to turn a repo's CI off in silence (``option
buildkite.brnaches``, ``option buildkite.pipeline = no-slash``). The conf parser
(conf/parse.py) asks ``problem`` for every ``gitolite-options.buildkite.*`` line, so a
bad one is a conf error with its file:line and the admin push that brings it is
reported like any other conf error; buildkite/config.py reads the values with the same
helpers, and ``buildkite check`` asks ``problem`` for options compiled before this check
existed. In the base layer so the conf compiler can call it without importing
``buildkite/``. Standard library only, no ``re`` (config.py runs on the push path).
"""

from __future__ import annotations

PREFIX = "buildkite."
KEYS = ("enabled", "pipeline", "branches", "tags")
TRUE_WORDS = ("1", "yes", "true", "on")
FALSE_WORDS = ("0", "no", "false", "off")
MAX_VALUE = 1024
_SLUG_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_SLUG_REST = _SLUG_FIRST | frozenset("_-")


def is_slug(word: str) -> bool:
    """A Buildkite organization or pipeline slug (what the rc's schema allows)."""
    return bool(word) and word[0] in _SLUG_FIRST and all(c in _SLUG_REST for c in word)


def split_pipeline(value: str) -> tuple[str, str] | None:
    """``ORG/PIPELINE`` as (org, pipeline), or None when it is not exactly that."""
    org, slash, pipeline = value.strip().partition("/")
    if not slash or not is_slug(org) or not is_slug(pipeline):
        return None
    return org, pipeline


def split_patterns(value: str) -> list[str]:
    """Space- or comma-separated globs."""
    return value.replace(",", " ").split()


def _switch_problem(value: str) -> str | None:
    if value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return None
    return f"'{value}' is not a switch: use 1 or 0 (yes/no, true/false, on/off)"


def _globs_problem(value: str) -> str | None:
    words = split_patterns(value)
    if not words:
        return "no globs given (space-separated, e.g. 'main release/*')"
    for word in words:
        if word == "!":
            return "'!' must be followed by a glob"
    return None


def problem(key: str, value: str) -> str | None:
    """What is wrong with ``option KEY = VALUE`` (KEY starts with ``buildkite.``), or None."""
    name = key[len(PREFIX) :] if key.startswith(PREFIX) else key
    if name not in KEYS:
        import difflib

        close = difflib.get_close_matches(name, KEYS, n=1, cutoff=0.6)
        hint = f"; did you mean 'buildkite.{close[0]}'?" if close else ""
        return f"unknown option 'buildkite.{name}' (known: {', '.join(PREFIX + k for k in KEYS)}){hint}"
    if len(value) > MAX_VALUE:
        return f"option 'buildkite.{name}': value longer than {MAX_VALUE} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return f"option 'buildkite.{name}': control characters in the value"
    why: str | None
    if name == "enabled":
        why = _switch_problem(value)
    elif name == "pipeline":
        why = (
            None
            if split_pipeline(value)
            else f"'{value}' is not ORG/PIPELINE (two slugs such as example-org/app)"
        )
    elif name == "tags":
        why = None if value.strip().lower() in TRUE_WORDS + FALSE_WORDS else _globs_problem(value)
    else:
        why = _globs_problem(value)
    return f"option 'buildkite.{name}': {why}" if why else None
