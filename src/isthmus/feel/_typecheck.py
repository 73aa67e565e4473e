"""FEEL type expressions and conformance, for ``instance of`` and typed parameters (DMN 1.5 §10.3.2.9)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from isthmus.feel._lexer import scan_type
from isthmus.feel._types import FeelFunction, Range
from isthmus.feel._values import kind

Check = Callable[[Any], bool]

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


def _simple(name: str) -> Check:
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


def _generic(head: str, inner: str, result: str | None) -> Check:
    if head == "list":
        item = type_check(inner)
        return lambda v: isinstance(v, list) and all(item(x) or x is None for x in v)
    if head == "range":
        bound = type_check(inner)
        return lambda v: isinstance(v, Range) and all(bound(x) for x in (v.start, v.end) if x is not None)
    if head == "context":
        fields = {}
        for part in _split_top(inner):
            key, _, type_text = part.partition(":")
            fields[key.strip().strip('"')] = type_check(type_text.strip())
        return lambda v: isinstance(v, dict) and all(k in v and c(v[k]) for k, c in fields.items())
    if head == "function":
        count = len(_split_top(inner))
        return lambda v: isinstance(v, FeelFunction) and (not v.params or len(v.params) == count)
    return lambda v: False


_GENERIC = re.compile(r"\s*([\w ]+?)\s*<(.*)>\s*(?:->\s*(.+))?", re.DOTALL)


@lru_cache(maxsize=512)
def type_check(text: str) -> Check:
    """A predicate for values conforming to the FEEL type ``text`` (``list<number>``, ``tPerson``…).

    Unknown type names (item definitions of a DMN model) conform nothing here; the DMN engine checks them.
    """
    text = " ".join(text.split())
    found = _GENERIC.fullmatch(text)
    if found and scan_type(text, 0) is not None:
        head, inner, result = found.group(1), found.group(2), found.group(3)
        return _generic(head.strip(), inner, result)
    return _simple(text)


def conforms(value: Any, type_text: str | None) -> bool:
    """Whether ``value`` may be passed where ``type_text`` is declared (null conforms to every type)."""
    return type_text is None or value is None or type_check(type_text)(value)
