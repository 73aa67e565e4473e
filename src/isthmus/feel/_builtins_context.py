"""Context and miscellaneous functions (DMN 1.5 §10.3.4.2, §10.3.4.8, §10.3.4.11)."""

from __future__ import annotations

from typing import Any

from lark import Tree

from isthmus.feel import _args as a
from isthmus.feel._errors import FeelSyntaxError
from isthmus.feel._functions import FeelTypeError, builtin
from isthmus.feel._parser import parse
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


_CONSTRUCTORS = frozenset({"date", "time", "date and time", "duration"})


def _literal_endpoint(node: Any) -> bool:
    """A range string may only hold literals and temporal constructors of string literals."""
    if not isinstance(node, Tree):
        return False
    if node.data in ("number", "string", "temporal", "true", "false"):
        return True
    if node.data == "neg":
        return _literal_endpoint(node.children[-1])
    if node.data != "call" or len(node.children) != 2:
        return False
    callee, args = node.children
    return (
        isinstance(callee, Tree)
        and " ".join(str(t) for t in callee.children) in _CONSTRUCTORS
        and isinstance(args, Tree)
        and len(args.children) == 1
        and isinstance(args.children[0], Tree)
        and args.children[0].data == "string"
    )


@builtin("range", "from")
def range_(text: Any) -> Range:
    """``range("[1..10)")``: a range literal in a string (DMN 1.5 §10.3.4.13)."""
    from isthmus.feel._expression import compile_expression  # built-ins load before expressions

    source = a.text(text, "from")
    try:
        tree = parse(source)
    except FeelSyntaxError:
        raise FeelTypeError(f"{source!r} is not a range literal") from None
    node = tree.children[0]
    if not (
        isinstance(node, Tree) and node.data == "range" and all(map(_literal_endpoint, node.children[1:3]))
    ):
        raise FeelTypeError(f"{source!r} is not a range literal")
    value = compile_expression(source).evaluate({})
    if not isinstance(value, Range):
        raise FeelTypeError(f"{source!r} is not a valid range")
    return value
