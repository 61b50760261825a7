"""Argument parsing for the hot-path commands (``shell``, ``access``, ``trigger``), argparse's way.

Every other command uses argparse. These three start on every fetch, from hooks and
from scripts that query access per ref, and argparse imports ``re``, ``enum`` and
``gettext``: about 6 ms under the launchers' ``-I -S`` (``python -I -S -X importtime -c
"import argparse"``), a fifth of a whole ssh session's start-up. So they declare their
options here, and an admin sees the same thing either way: ``-h``/``--help`` prints the
usage, the description and every option on stdout and exits 0; a usage error prints the
usage and ``PROG: error: ...`` on stderr and exits 2 (``SystemExit``, as argparse).

Options come before the arguments: the first word that is not an option (or ``--``)
starts the arguments, so ``trigger NAME -x`` passes ``-x`` to the trigger's programs.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


class Option:
    """One option: its flags (``-v``, ``--verbose``), its help, a METAVAR if it takes a value."""

    __slots__ = ("flags", "help", "metavar", "dest")

    def __init__(self, *flags: str, help: str, metavar: str | None = None) -> None:
        self.flags = flags
        self.help = help
        self.metavar = metavar
        self.dest = flags[-1].lstrip("-").replace("-", "_")


HELP = Option("-h", "--help", help="show this help message and exit")


class Parser:
    """A command's usage: options, then named arguments (``(NAME, help)`` pairs)."""

    def __init__(
        self,
        prog: str,
        description: str,
        options: tuple[Option, ...] = (),
        arguments: tuple[tuple[str, str], ...] = (),
        arguments_usage: str = "",
        epilog: str = "",
    ) -> None:
        self.prog = prog
        self.description = description
        self.options = (HELP, *options)
        self.arguments = arguments
        self.arguments_usage = arguments_usage
        self.epilog = epilog

    def usage(self) -> str:
        words = [f"[{o.flags[0]}{' ' + o.metavar if o.metavar else ''}]" for o in self.options]
        tail = f" {self.arguments_usage}" if self.arguments_usage else ""
        return f"usage: {self.prog} {' '.join(words)}{tail}"

    def help(self) -> str:
        def flags(o: Option) -> str:
            return ", ".join(f"{f} {o.metavar}" if o.metavar else f for f in o.flags)

        rows = [(name, text) for name, text in self.arguments]
        width = max(len(r[0]) for r in [*rows, *((flags(o), "") for o in self.options)]) + 2
        out = [self.usage(), "", self.description]
        if rows:
            out += ["", "positional arguments:", *(f"  {n:<{width}}{t}" for n, t in rows)]
        out += ["", "options:", *(f"  {flags(o):<{width}}{o.help}" for o in self.options)]
        if self.epilog:
            out += ["", self.epilog]
        return "\n".join(out)

    def error(self, message: str) -> NoReturn:
        """A usage error: usage and ``PROG: error: MESSAGE`` on stderr, exit 2."""
        print(f"{self.usage()}\n{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    def parse(self, argv: list[str]) -> tuple[dict[str, str | bool | None], list[str]]:
        """Return (options by dest, arguments); ``--help`` and usage errors exit."""
        by_flag = {f: o for o in self.options for f in o.flags}
        values: dict[str, str | bool | None] = {
            o.dest: (None if o.metavar else False) for o in self.options
        }
        args = list(argv)
        while args and args[0].startswith("-") and args[0] != "-":
            word = args.pop(0)
            if word == "--":
                break
            name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
            option = by_flag.get(name)
            if option is None:
                self.error(f"unknown option '{word}'")
            if option is HELP:
                print(self.help())
                raise SystemExit(0)
            if option.metavar is None:
                if eq:
                    self.error(f"option '{name}' takes no value")
                values[option.dest] = True
            elif eq:
                values[option.dest] = inline
            elif args:
                values[option.dest] = args.pop(0)
            else:
                self.error(f"option '{name}' needs a value ({option.metavar})")
        return values, args
