"""FEEL type expressions and conformance, for ``instance of`` and typed parameters (DMN 1.5 §10.3.2.9)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from isthmus.feel._lexer import scan_type
from isthmus.feel._types import FeelFunction, Range
from isthmus.feel._values import kind

Check = Callable[[Any], bool]
#: user-defined types (DMN item definitions): a FEEL type text such as ``"list<number>"`` or a predicate
TypeTable = Mapping[str, "str | Callable[[Any], bool]"]

_SIMPLE = {
    "number",
    "string",
    "boolean",
    "date",
    "time",
    "date and time",
    "years and months duration",
    "days and time duration",
    "list",
    "context",
    "range",
    "function",
}
_ALIASES = {"dateTime": "date and time", "duration": None}


def _split_top(text: str, separator: str = ",") -> list[str]:
    parts, depth, current = [], 0, []
    i = 0
    while i < len(text):
        if text.startswith("->", i):
            current.append("->")
            i += 2
            continue
        char = text[i]
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _simple(name: str, types: TypeTable | None = None) -> Check:
    if types is not None and name in types:
        found = types[name]
        return type_check(found, types) if isinstance(found, str) else found
    if name == "Any":
        return lambda v: v is not None
    if name == "Null":
        return lambda v: v is None
    if name == "duration":
        return lambda v: kind(v) in ("years and months duration", "days and time duration")
    target = _ALIASES.get(name, name)
    if target not in _SIMPLE:
        return lambda v: False
    return lambda v: kind(v) == target


def _generic(head: str, inner: str, types: TypeTable | None) -> Check:
    if head == "list":
        item = type_check(inner, types)
        return lambda v: isinstance(v, list) and all(item(x) or x is None for x in v)
    if head == "range":
        bound = type_check(inner, types)
        return lambda v: isinstance(v, Range) and all(bound(x) for x in (v.start, v.end) if x is not None)
    if head == "context":
        fields = {}
        for part in _split_top(inner):
            key, _, type_text = part.partition(":")
            fields[key.strip().strip('"')] = type_check(type_text.strip(), types)
        return lambda v: (
            isinstance(v, dict) and all(k in v and conforms_or_null(v[k], c) for k, c in fields.items())
        )
    if head == "function":
        count = len(_split_top(inner))
        return lambda v: isinstance(v, FeelFunction) and (not v.params or len(v.params) == count)
    return lambda v: False


def conforms_or_null(value: Any, check: Check) -> bool:
    return value is None or check(value)


_GENERIC = re.compile(r"\s*([\w ]+?)\s*<(.*)>\s*(?:->\s*(.+))?", re.DOTALL)


def type_check(text: str, types: TypeTable | None = None) -> Check:
    """A predicate for values conforming to the FEEL type ``text`` (``list<number>``, ``tPerson``…).

    Names not in FEEL are looked up in ``types``; unknown ones conform nothing.
    """
    if types is None:
        return _builtin_check(text)
    return _type_check(text, types)


@lru_cache(maxsize=512)
def _builtin_check(text: str) -> Check:
    return _type_check(text, None)


def _type_check(text: str, types: TypeTable | None) -> Check:
    text = " ".join(text.split())
    found = _GENERIC.fullmatch(text)
    if found and scan_type(text, 0) is not None:
        return _generic(found.group(1).strip(), found.group(2), types)
    return _simple(text, types)


def conforms(value: Any, type_text: str | None) -> bool:
    """Whether ``value`` may be passed where ``type_text`` is declared (null conforms to every type)."""
    return type_text is None or value is None or type_check(type_text)(value)
