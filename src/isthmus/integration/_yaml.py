"""YAML that remembers where each key was written, so a flow error names its line.

``yaml.safe_load`` forgets positions; :class:`_LineLoader` is a ``SafeLoader`` whose mappings are
:class:`LineMap` (a plain ``dict`` plus the 1-based line of every key). Only safe tags are built.
"""

from __future__ import annotations

from typing import Any

import yaml

from isthmus.errors import Location, SyntaxProblem


class LineMap(dict[str, Any]):
    """A mapping read from YAML; ``line_of(key)`` is the line the key sits on (1-based)."""

    lines: dict[str, int]
    start_line: int

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.start_line)


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        base = super().construct_mapping(node, deep=True)
        result = LineMap({str(k): v for k, v in base.items()})
        result.lines = {str(self.construct_object(k)): k.start_mark.line + 1 for k, _ in node.value}
        result.start_line = node.start_mark.line + 1
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _LineLoader.construct_mapping,
)


def load_yaml(text: str, *, file: str | None = None) -> Any:
    """Parse ``text`` safely; a YAML error becomes a ``SyntaxProblem`` with its line and column."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = Location(
            file=file, line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None
        )
        raise SyntaxProblem("YAML: {problem}", location=where, problem=str(exc.problem or exc)) from exc
    except yaml.YAMLError as exc:
        raise SyntaxProblem("YAML: {problem}", location=Location(file=file), problem=str(exc)) from exc
