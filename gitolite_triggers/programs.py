"""Find the thing an rc trigger entry names.

Lookup order (docs/rc.md):
1. an absolute path to an executable file;
2. ``$LOCAL_CODE/triggers/<program>`` (executable), then the package's built-in programs
   in ``gitolite_triggers/triggers/<program>`` (sub-paths like ``post-compile/ssh-authkeys``;
   the Python ones in BUILTIN_IN_PROCESS run in-process);
3. a Python callable ``package.module:function``, run in-process;
4. an entry point another pip package registers in the group ``gitolite_triggers.programs``.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.paths import BUILTIN_TRIGGERS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Callable_ = Callable[[list[str]], int | None]

ENTRY_POINT_GROUP = "gitolite_triggers.programs"

# Built-ins written in Python run in-process: an admin push or POST_CREATE then pays no
# interpreter start-up per program. Their scripts in triggers/ stay, so each is still a
# standalone tool (and LOCAL_CODE can still override one by name).
BUILTIN_IN_PROCESS = {
    "post-compile/ssh-authkeys": "gitolite_triggers.postcompile.ssh_authkeys:main",
    "post-compile/update-git-configs": "gitolite_triggers.postcompile.git_configs:main",
    "post-compile/update-gitweb-access-list": "gitolite_triggers.postcompile.gitweb:main",
    "post-compile/update-git-daemon-access-list": "gitolite_triggers.postcompile.daemon:main",
    "buildkite": "gitolite_triggers.buildkite.trigger:main",
    "set-default-roles": "gitolite_triggers.postcompile.default_roles:main",
    "post-compile/create-with-reference": "gitolite_triggers.postcompile.reference:main",
    "partial-copy": "gitolite_triggers.postcompile.partial_copy:main",
}


class Resolved:
    """Either a command prefix to exec or an in-process callable."""

    __slots__ = ("name", "command", "func", "where")

    def __init__(
        self,
        name: str,
        command: list[str] | None = None,
        func: Callable_ | None = None,
        where: str = "",
    ) -> None:
        self.name = name
        self.command = command
        self.func = func
        self.where = where


class NotFound(Exception):
    """The program does not exist or is not executable; the runner warns and goes on."""


def _safe_subpath(program: str) -> bool:
    parts = program.split("/")
    return bool(program) and not program.startswith("/") and ".." not in parts and "" not in parts


def _is_exec(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _builtin(program: str) -> str | None:
    path = os.path.join(BUILTIN_TRIGGERS, program)
    return path if os.path.isfile(path) else None


def load_callable(spec: str) -> Callable_:
    """Import ``package.module:function``; raise NotFound with the reason."""
    module_name, _, func_name = spec.partition(":")
    try:
        __import__(module_name)
        module = sys.modules[module_name]
    except ImportError as e:
        raise NotFound(f"cannot import {module_name}: {e}") from None
    func: object = module
    for part in func_name.split("."):
        func = getattr(func, part, None)
        if func is None:
            raise NotFound(f"{module_name} has no {func_name}")
    if not callable(func):
        raise NotFound(f"{spec} is not callable")
    return func


def _entry_point(program: str) -> Resolved | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == program:
            try:
                return Resolved(program, func=ep.load(), where=f"entry point {ep.value}")
            except Exception as e:  # a broken plugin must not crash the runner
                raise NotFound(f"entry point {ep.value} failed to load: {e}") from None
    return None


_RESOLVED: dict[tuple[str, str | None], Resolved] = {}


def resolve(program: str, local_code: str | None) -> Resolved:
    """Resolve one rc program name (cached for the process); raise NotFound when nothing matches."""
    key = (program, local_code)
    found = _RESOLVED.get(key)
    if found is None:
        found = _RESOLVED[key] = _resolve(program, local_code)
    return found


def _resolve(program: str, local_code: str | None) -> Resolved:
    if os.path.isabs(program):
        if _is_exec(program):
            return Resolved(program, command=[program], where=program)
        raise NotFound("not found or not executable")
    if _safe_subpath(program):
        if local_code:
            candidate = os.path.join(local_code, "triggers", program)
            if _is_exec(candidate):
                return Resolved(program, command=[candidate], where=candidate)
        if program in BUILTIN_IN_PROCESS:
            spec = BUILTIN_IN_PROCESS[program]
            return Resolved(program, func=load_callable(spec), where=f"built-in {spec}")
        builtin = _builtin(program)
        if builtin:
            # Built-ins are Python files run by this interpreter, so they find this package.
            return Resolved(program, command=[sys.executable, builtin], where=builtin)
    if ":" in program:
        return Resolved(program, func=load_callable(program), where=program)
    found = _entry_point(program)
    if found:
        return found
    raise NotFound("not found or not executable")
