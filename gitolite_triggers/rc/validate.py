"""Check one parsed rc file against the shipped JSON schema, with file:line:col messages.

Runs only when the rc cache is rebuilt (and for ``rc check``), never on the hot path.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from functools import cache
from typing import Any, cast

from gitolite_triggers.paths import SCHEMA
from gitolite_triggers.rc.yamlpos import Loaded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from jsonschema import ValidationError

TRIGGER_NAMES = (
    "ACCESS_CHECK",
    "PRE_GIT",
    "POST_GIT",
    "POST_COMPILE",
    "PRE_CREATE",
    "POST_CREATE",
    "ACCESS_1",
    "ACCESS_2",
)
TRIGGER_SHAPE = re.compile(r"^[A-Z][A-Z0-9_]*$")


@cache
def schema() -> dict[str, Any]:
    """The rc schema; the buildkite section's own schema is spliced in when present."""
    with open(os.path.join(SCHEMA, "rc.schema.json"), encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)  # a JSON object
    bk = os.path.join(SCHEMA, "buildkite.schema.json")
    if os.path.exists(bk):
        with open(bk, encoding="utf-8") as f:
            doc["$defs"]["buildkite"] = json.load(f)
    # In JSON Schema, properties and patternProperties both apply: keep upper-case
    # settings (UMASK, GL_REPO_BASE...) from also being checked as trigger lists.
    upper = "|".join(k for k in doc["properties"] if TRIGGER_SHAPE.match(k))
    trigger_schema = doc["patternProperties"].pop(TRIGGER_SHAPE.pattern)
    doc["patternProperties"][f"^(?!(?:{upper})$)[A-Z][A-Z0-9_]*$"] = trigger_schema
    return doc


def known_settings() -> tuple[str, ...]:
    return tuple(schema()["properties"])


def _nearest(word: str, candidates: tuple[str, ...]) -> str | None:
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.75)
    if not found:
        found = difflib.get_close_matches(
            word.upper(), [c.upper() for c in candidates], n=1, cutoff=0.75
        )
        if found:
            found = [c for c in candidates if c.upper() == found[0]]
    return found[0] if found else None


def _fmt_path(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: ValidationError) -> str:
    """Say what was expected, in an admin's words rather than the schema's."""
    desc = err.schema.get("description") if isinstance(err.schema, dict) else None
    v = err.validator
    if v == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        return f"missing required key {missing[0]!r}" if missing else err.message
    if v == "additionalProperties":
        extra = re.findall(r"'([^']+)'", err.message)
        # the keyword is in a schema object, so that object is a mapping
        allowed = ", ".join(sorted(cast("Mapping[str, Any]", err.schema).get("properties", {})))
        names = ", ".join(repr(e) for e in extra) or "a key"
        return f"unknown key {names}; expected one of: {allowed}"
    if v == "enum":
        values = cast("list[Any]", err.validator_value)  # enum's value: a list (the schema's)
        return f"expected one of {', '.join(map(repr, values))}, got {_describe(err.instance)}"
    if v == "pattern" and tuple(err.absolute_path) == ("AUTH_OPTIONS",):
        # The pattern is unreadable; say what is wrong with this value (a final newline
        # from a YAML '>' block, a space, an unknown option) before what is expected.
        from gitolite_triggers.authoptions import auth_options_problem

        why = auth_options_problem(err.instance) or "not sshd option syntax"
        return f"{_describe(err.instance)}: {why}; expected {desc}"
    if tuple(err.absolute_path) == ("UMASK",) and _owner_bits(err.instance):
        return (
            f"{_octal(err.instance)} takes the account's own rwx away (bits in 0700): git could"
            " not read or write its repos; use 0077, or 0027 to let a group read"
        )
    if v == "format" and err.cause is not None:
        what = desc or f"a {err.validator_value}"
        return f"expected {what}, got {_describe(err.instance)}: {err.cause}"
    if desc:
        return f"expected {desc}, got {_describe(err.instance)}"
    if v == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"expected {want}, got {_describe(err.instance)}"
    return err.message


def _owner_bits(value: Any) -> bool:
    """True for a UMASK (int, or octal text) that masks any of the owner's rwx bits."""
    if isinstance(value, str) and value.isdigit() and set(value) <= set("01234567"):
        value = int(value, 8)
    return isinstance(value, int) and not isinstance(value, bool) and bool(value & 0o700)


def _octal(value: Any) -> str:
    return f"{value:04o}" if isinstance(value, int) else value


@cache
def format_checker() -> Any:
    """The draft's format checker, with ``regex`` checked by linear_re instead of ``re``.

    Every ``"format": "regex"`` value (buildkite ``pipelines[].repos``) is matched
    against repo names that users choose (wild repos), so it runs on RE2: a pattern RE2
    cannot take (a backreference, lookaround) is an rc error with its line, not a regex
    that would silently never match.
    """
    import copy

    from jsonschema import Draft202012Validator

    from gitolite_triggers import linear_re

    checker = copy.copy(Draft202012Validator.FORMAT_CHECKER)
    checker.checkers = dict(checker.checkers)

    def linear_regex(instance: object) -> bool:
        if isinstance(instance, str):  # other types are the "type" keyword's to report
            linear_re.compile(instance)
        return True

    checker.checks("regex", raises=linear_re.RegexError)(linear_regex)
    return checker


def validate(loaded: Loaded) -> tuple[list[str], list[str]]:
    """Return (errors, warnings) for one file, each message starting ``file:line:col:``."""
    errors, warnings, _ = check_keys(loaded)
    return errors, warnings


def valid_part(loaded: Loaded, bad: set[Any]) -> Loaded:
    """``loaded`` without the top-level keys ``check_keys`` found wrong: what ``rc check``
    still merges, so the programs of a file's valid lists are resolved in the same run."""
    from dataclasses import replace

    return replace(loaded, data={k: v for k, v in loaded.data.items() if k not in bad})


def check_keys(loaded: Loaded) -> tuple[list[str], list[str], set[Any]]:
    """``validate``, plus the top-level keys that hold an error (every key: the whole file)."""
    from jsonschema import Draft202012Validator

    errors: list[str] = []
    warnings: list[str] = []
    settings = known_settings()
    known = settings + TRIGGER_NAMES
    bad: set[Any] = set()
    checked: dict[str, Any] = {}  # what the schema sees: every key reported here is left out
    for key in loaded.data:
        line, col = loaded.where((key,), key=True)
        where = f"{loaded.path}:{line}:{col}"
        if not isinstance(key, str):
            errors.append(f"{where}: {key!r}: top-level keys must be strings")
            bad.add(key)
            continue
        if key in known:
            checked[key] = loaded.data[key]
            continue
        near = _nearest(key, known)
        if TRIGGER_SHAPE.match(key):
            checked[key] = loaded.data[key]
            if near:
                warnings.append(
                    f"{where}: {key}: kept as a custom trigger, but did you mean {near}?"
                )
            continue
        bad.add(key)
        hint = f"; did you mean {near!r}?" if near else ""
        errors.append(
            f"{where}: {key}: unknown key (settings are {', '.join(settings)};"
            f" trigger names are upper case){hint}"
        )
    # The schema checks the other keys too, so one run reports every problem of the file.
    validator = Draft202012Validator(schema(), format_checker=format_checker())
    seen: set[tuple[tuple[Any, ...], str]] = set()
    for err in sorted(
        validator.iter_errors(checked), key=lambda e: list(map(str, e.absolute_path))
    ):
        path = tuple(err.absolute_path)
        if err.validator in ("if", "then", "else", "$ref"):
            continue
        at_key = err.validator == "additionalProperties"
        if at_key:
            extra = re.findall(r"'([^']+)'", err.message)
            if extra and path + (extra[0],) in loaded.key_marks:
                line, col = loaded.where(path + (extra[0],), key=True)
            else:
                line, col = loaded.where(path)
        else:
            line, col = loaded.where(path)
        msg = _message(err)
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        errors.append(f"{loaded.path}:{line}:{col}: {_fmt_path(path)}: {msg}")
        bad.update(path[:1] or loaded.data)
    return errors, warnings, bad
