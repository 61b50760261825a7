"""Read a repo's ``config`` file in Python, so 10,000 repos cost 10,000 file reads, not 10,000 gits.

Only reading is done here; every change still goes through ``git config --file`` so git
itself writes its file. Anything this small parser is unsure about (includes, odd
syntax) makes it give up, and the caller asks ``git config -l`` instead: a wrong "no
change needed" must never come from here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

_SECTION = re.compile(r'^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]\s*(.*)$')
_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "\\": "\\", '"': '"'}
_UNESCAPE_SUB = re.compile(r"\\(.)")
_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$")


class Unsure(Exception):
    """The file uses something this parser does not handle; ask git."""


def normalize(key: str) -> str:
    """git's key identity: section and name are case-insensitive, the subsection is not."""
    first, _, rest = key.partition(".")
    middle, _, name = rest.rpartition(".")
    if not name:
        return key.lower()
    return (
        f"{first.lower()}.{middle}.{name.lower()}" if middle else f"{first.lower()}.{name.lower()}"
    )


def _value(raw: str) -> str:
    """git's value syntax: quotes group, escapes, comments end it, unquoted trailing space goes."""
    out: list[tuple[str, bool]] = []
    quoted = False
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            if i + 1 >= len(raw):
                raise Unsure("continuation line")
            nxt = raw[i + 1]
            if nxt not in _ESCAPES:
                raise Unsure(f"escape \\{nxt}")
            out.append((_ESCAPES[nxt], True))
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c in "#;" and not quoted:
            break
        else:
            out.append((c, quoted))
        i += 1
    if quoted:
        raise Unsure("unterminated quote")
    while out and not out[-1][1] and out[-1][0] in " \t":
        out.pop()
    return "".join(c for c, _ in out)


def parse(text: str) -> dict[str, str]:
    """key -> last value, keys normalised; raise Unsure for what only git should judge."""
    values: dict[str, str] = {}
    section: str | None = None
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            m = _SECTION.match(s)
            if not m or (m.group(3) and m.group(3)[0] not in "#;"):
                raise Unsure(f"section line {s!r}")
            name = m.group(1).lower()
            if m.group(2) is not None:
                section = name + "." + _UNESCAPE_SUB.sub(r"\1", m.group(2))
            elif "." in name:
                raise Unsure("legacy [section.subsection] header")
            else:
                section = name
            if name in ("include", "includeif"):
                raise Unsure("config includes")
            continue
        if section is None:
            raise Unsure("key outside a section")
        m = _KEY.match(s)
        if not m:
            raise Unsure(f"line {s!r}")
        value = "true" if m.group(2) is None else _value(m.group(2))
        values[f"{section}.{m.group(1).lower()}"] = value
    return values


def read(config: Path) -> dict[str, str]:
    """The repo's config as key -> value; git does the reading when we are unsure."""
    try:
        return parse(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (Unsure, UnicodeDecodeError):
        return read_with_git(config)


def read_with_git(config: Path) -> dict[str, str]:
    proc = subprocess.run(
        ["git", "config", "--file", str(config), "--list", "-z"],
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    values: dict[str, str] = {}
    for item in proc.stdout.split(b"\0"):
        if not item:
            continue
        key, _, value = item.decode("utf-8", "replace").partition("\n")
        values[normalize(key)] = value
    return values
