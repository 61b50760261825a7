"""Read one rc YAML file into plain data plus the file position of every key and value.

PyYAML's ``safe_load`` forgets where things came from and silently keeps the last of
two duplicate keys; an admin who mistypes an rc edit deserves ``file:line:col``. So
this walks PyYAML's node graph itself. Imported only when the rc cache is stale: the
hot path never loads PyYAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitolite_triggers.errors import RcError

PathKey = tuple[Any, ...]


@dataclass
class Loaded:
    """One parsed rc file: its data and where each value (and each key) starts."""

    path: Path
    data: dict[str, Any]
    value_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # every bad key, not only the first

    def where(self, path: PathKey, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value (or key) at ``path``, or its nearest parent."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while probe:
            if probe in marks:
                return marks[probe]
            if not key and probe in self.key_marks:
                return self.key_marks[probe]
            probe = probe[:-1]
        return self.value_marks.get((), (1, 1))


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_file(path: Path) -> Loaded:
    """Parse ``path``; raise RcError naming file, line and column for any YAML problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RcError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise RcError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    loader = yaml.SafeLoader(text)
    loaded = Loaded(path=path, data={})
    try:
        node = loader.get_single_node()
        if node is None:
            loaded.value_marks[()] = (1, 1)
            return loaded
        data = _build(loader, node, (), loaded)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = e.problem or e.context or "invalid YAML"
        raise RcError(f"{path}:{line}:{col}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as e:
        raise RcError(f"{path}: YAML error: {e}") from None
    finally:
        loader.dispose()
    if loaded.problems:
        raise RcError("\n".join(loaded.problems))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        line, col = _pos(node)
        raise RcError(
            f"{path}:{line}:{col}: the rc must be a mapping of KEY: value, got {type(data).__name__}"
        )
    loaded.data = data
    return loaded


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: PathKey, out: Loaded) -> Any:
    out.value_marks[path] = _pos(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                line, col = _pos(key_node)
                out.problems.append(f"{out.path}:{line}:{col}: mapping keys must be plain scalars")
                continue
            if key in result:
                line, col = _pos(key_node)
                first_line, _ = out.key_marks[path + (key,)]
                out.problems.append(
                    f"{out.path}:{line}:{col}: duplicate key {key!r}"
                    f" (first defined at line {first_line}); YAML would silently keep only the last"
                )
                continue
            out.key_marks[path + (key,)] = _pos(key_node)
            result[key] = _build(loader, value_node, path + (key,), out)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (i,), out) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
