"""Boxed ``functionDefinition kind="Java"`` (DMN 1.5 §10.3.2.13.3), limited to a safe whitelist.

Isthmus runs no Java and never reflects on names taken from a model: only the pure numeric methods of
``java.lang.Math`` below are mapped to Python. Any other class or method evaluates to null with a
warning, as an unavailable external function would.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

_MATH: dict[str, Callable[..., float]] = {
    "abs": abs,
    "max": max,
    "min": min,
    "cos": math.cos,
    "sin": math.sin,
    "tan": math.tan,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "pow": math.pow,
    "floor": math.floor,
    "ceil": math.ceil,
}


def java_method(mapping: Any) -> Callable[..., Any] | None:
    """The Python stand-in for ``{class: …, method signature: …}``, or None when not whitelisted."""
    if not isinstance(mapping, dict):
        return None
    cls, signature = mapping.get("class"), mapping.get("method signature")
    if cls != "java.lang.Math" or not isinstance(signature, str):
        return None
    method = _MATH.get(signature.partition("(")[0].strip())
    if method is None:
        return None

    def call(*args: Any) -> Any:
        if not all(isinstance(a, Decimal) for a in args):
            return None
        try:
            result = method(*(float(a) for a in args))
            return Decimal(repr(result)) if isinstance(result, float) else Decimal(result)
        except (ValueError, OverflowError, InvalidOperation, TypeError):
            return None

    return call
