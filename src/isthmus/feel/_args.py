"""Argument checks shared by the built-ins: a wrong kind raises :class:`FeelTypeError` (null + warning)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from isthmus.feel._functions import FeelTypeError
from isthmus.feel._types import Range
from isthmus.feel._values import kind


def _single(value: Any) -> Any:
    """A singleton list where one value is expected is that value (DMN 1.5 §10.3.2.9.4)."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def text(value: Any, what: str = "string") -> str:
    if value.__class__ is str:
        return str(value)
    value = _single(value)
    if not isinstance(value, str):
        raise FeelTypeError(f"{what} must be a string, not {kind(value)}")
    return value


def number(value: Any, what: str = "number") -> Decimal:
    value = _single(value)
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise FeelTypeError(f"{what} must be a number, not {kind(value)}")
    return Decimal(value)


def integer(value: Any, what: str = "argument") -> int:
    return int(number(value, what))  # fractions are truncated (TCK 1100, 1103, 1155)


def items(value: Any, what: str = "list") -> list[Any]:
    """A list argument; a single non-list value is a singleton list (DMN 1.5 §10.3.2.9.4)."""
    if value is None:
        raise FeelTypeError(f"{what} must be a list, not null")
    return value if isinstance(value, list) else [value]


def strict_list(value: Any, what: str = "list") -> list[Any]:
    """A list argument; a single non-null value is a singleton list (DMN 1.5 §10.3.2.9.4)."""
    if value is None:
        raise FeelTypeError(f"{what} must be a list, not null")
    return value if isinstance(value, list) else [value]


def context(value: Any, what: str = "context") -> dict[str, Any]:
    value = _single(value)
    if not isinstance(value, dict):
        raise FeelTypeError(f"{what} must be a context, not {kind(value)}")
    return value


def boolean(value: Any, what: str = "boolean") -> bool:
    if not isinstance(value, bool):
        raise FeelTypeError(f"{what} must be a boolean, not {kind(value)}")
    return value


def date_like(value: Any, what: str = "date") -> dt.date:
    value = _single(value)
    if not isinstance(value, dt.date):
        raise FeelTypeError(f"{what} must be a date or date and time, not {kind(value)}")
    return value


def given(value: Any, what: str) -> Any:
    """An optional argument that, when given, must not be null (``floor(1.5, null)`` is null)."""
    if value is None:
        raise FeelTypeError(f"{what} must not be null")
    return value


def varargs(args: tuple[Any, ...]) -> list[Any]:
    """``min([1, 2])`` and ``min(1, 2)`` mean the same."""
    if len(args) == 1 and isinstance(args[0], list):
        return args[0]
    if not args:
        raise FeelTypeError("at least one argument is required")
    return list(args)


def is_range(value: Any) -> bool:
    return isinstance(value, Range)
