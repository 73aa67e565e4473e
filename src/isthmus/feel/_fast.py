"""Fused closures for the hot shapes: a name or path read, and a name compared with a constant.

A closure per AST node costs one Python call per node. Gateway conditions and field mappings are
mostly ``name op constant`` and ``a.b.c``; fusing them into one closure each keeps evaluation within a
few times a hand-written lambda. Every fused closure falls back to the general one (``slow``) as soon
as a value is not a plain FEEL value, so semantics (warnings, int normalisation) stay in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from isthmus.feel._functions import Builtin, FeelTypeError
from isthmus.feel._runtime import LimitExceeded, warn
from isthmus.feel._scope import MISSING, Fn
from isthmus.feel._types import DECIMAL

_CONVERT = frozenset({int, float, tuple})


def fused_chain(segments: tuple[str, ...], slow: Fn) -> Fn:
    """``a.b.c`` as one dictionary walk; anything but nested contexts takes the general path."""
    first, rest = segments[0], segments[1:]
    if len(rest) == 1:
        second = rest[0]

        def read_two(env: Any) -> Any:
            value = env.get(first, MISSING)
            if value.__class__ is dict:
                value = value.get(second, MISSING)
                if value is not MISSING and value.__class__ not in _CONVERT:
                    return value
            return slow(env)

        return read_two

    def read_many(env: Any) -> Any:
        value = env.get(first, MISSING)
        for segment in rest:
            if value.__class__ is not dict:
                return slow(env)
            value = value.get(segment, MISSING)
        if value is MISSING or value.__class__ in _CONVERT:
            return slow(env)
        return value

    return read_many


_FACTORIES: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
}


def fused_name_compare(name: str, symbol: str, constant: Any, slow_left: Fn) -> Fn | None:
    """``name op constant`` for a number or string constant, in one closure."""
    if constant.__class__ not in (Decimal, str) or symbol not in _FACTORIES:
        return None
    from isthmus.feel._compiler import comparison  # the general semantics, for the slow path

    test = comparison(symbol)
    cls = constant.__class__
    bound: Any = constant  # a Decimal or a str, compared only with its own class
    if symbol == ">":

        def greater(env: Any) -> Any:
            value = env.get(name, MISSING)
            return value > bound if value.__class__ is cls else test(slow_left(env), constant)

        return greater
    if symbol == "=":

        def equals(env: Any) -> Any:
            value = env.get(name, MISSING)
            return value == constant if value.__class__ is cls else test(slow_left(env), constant)

        return equals
    fast = _FACTORIES[symbol]

    def compare(env: Any) -> Any:
        value = env.get(name, MISSING)
        return fast(value, constant) if value.__class__ is cls else test(slow_left(env), constant)

    return compare


_DECIMAL_OPS: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "-": DECIMAL.subtract,
    "*": DECIMAL.multiply,
    "/": DECIMAL.divide,
    "+": DECIMAL.add,
}


def fused_arith(symbol: str, left: Fn, right: Fn, general: Callable[[Any, Any], Any]) -> Fn:
    """Number-with-number arithmetic straight on the decimal128 context; all else via ``general``."""
    fast = _DECIMAL_OPS.get(symbol)
    if fast is None:
        return lambda env: general(left(env), right(env))

    def arith(env: Any) -> Any:
        a, b = left(env), right(env)
        if a.__class__ is Decimal and b.__class__ is Decimal:
            try:
                return fast(a, b)
            except ArithmeticError:
                pass  # division by zero, overflow: the general path warns and yields null
        return general(a, b)

    return arith


def fused_builtin_call(function: Builtin, args: list[Fn], general: Fn) -> Fn:
    """A first-order built-in called by name: no binding or depth bookkeeping, same failure rules."""
    name, body = function.name, function.body
    only = args[0] if len(args) == 1 else None

    def call(env: Any) -> Any:
        if env.get(name, MISSING) is not MISSING:
            return general(env)  # the context shadows the built-in
        try:
            if only is not None:
                return body(only(env))
            return body(*[arg(env) for arg in args])
        except (LimitExceeded, RecursionError):
            raise
        except FeelTypeError as error:
            warn(f"{name}: {error}")
        except Exception as error:  # a FEEL invocation never raises (DMN 1.5 §10.3.2.11)
            warn(f"{name}: {type(error).__name__}: {error}")
        return None

    return call
