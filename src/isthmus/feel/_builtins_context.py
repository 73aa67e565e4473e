"""Context and miscellaneous functions (DMN 1.5 §10.3.4.2, §10.3.4.8, §10.3.4.11)."""

from __future__ import annotations

from typing import Any

from isthmus.feel import _args as a
from isthmus.feel._functions import FeelTypeError, builtin
from isthmus.feel._types import Range
from isthmus.feel._values import normalize


@builtin("not", "negand")
def not_(negand: Any) -> bool | None:
    return (not negand) if isinstance(negand, bool) else None


@builtin("get value", "m, key")
def get_value(m: Any, key: Any) -> Any:
    context = a.context(m, "m")
    if isinstance(key, list):
        value: Any = context
        for part in key:
            value = a.context(value).get(a.text(part, "key"))
        return normalize(value)
    return normalize(context.get(a.text(key, "key")))


@builtin("get entries", "m")
def get_entries(m: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": normalize(v)} for k, v in a.context(m, "m").items()]


def _put(context: dict[str, Any], keys: list[Any], value: Any) -> dict[str, Any]:
    key = a.text(keys[0], "key")
    result = dict(context)
    if len(keys) == 1:
        result[key] = value
        return result
    inner = context.get(key)
    result[key] = _put(a.context(inner, "nested context") if inner is not None else {}, keys[1:], value)
    return result


@builtin("context put", "context, key, value", "context, keys, value")
def context_put(context: Any, key: Any, value: Any) -> dict[str, Any]:
    keys = key if isinstance(key, list) else [key]
    if not keys:
        raise FeelTypeError("keys must not be empty")
    return _put(a.context(context), keys, value)


@builtin("context merge", "contexts")
def context_merge(contexts: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for context in a.strict_list(contexts, "contexts"):
        merged.update(a.context(context, "contexts item"))
    return merged


@builtin("context", "entries")
def context(entries: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for entry in a.items(entries, "entries"):
        item = a.context(entry, "entry")
        if "key" not in item or "value" not in item:
            raise FeelTypeError("each entry needs a key and a value")
        key = a.text(item["key"], "key")
        if key in result:
            raise FeelTypeError(f"duplicate key {key!r}")
        result[key] = item["value"]
    return result


@builtin("get or else", "value, default")
def get_or_else(value: Any, default: Any) -> Any:
    return default if value is None else value


@builtin("range", "from")
def range_(text: Any) -> Range:
    from isthmus.feel._expression import compile_expression  # built-ins load before expressions

    source = a.text(text, "from")
    value = compile_expression(source).evaluate({})
    if not isinstance(value, Range) or not _literal_endpoints(value):
        raise FeelTypeError(f"{source!r} is not a range literal")
    return value


def _literal_endpoints(r: Range) -> bool:
    return r.start is not None or r.end is not None
