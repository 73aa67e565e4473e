"""Numeric functions (DMN 1.5 §10.3.4.5), exact on decimal128 numbers."""

from __future__ import annotations

from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from typing import Any

from isthmus.feel import _args as a
from isthmus.feel._functions import ABSENT, FeelTypeError, builtin
from isthmus.feel._types import DECIMAL, DaysTimeDuration, YearsMonthsDuration


def _round(n: Any, scale: Any, rounding: str) -> Decimal:
    value = a.number(n, "n")
    places = a.integer(a.given(scale, "scale"), "scale") if scale is not ABSENT else 0
    if not -6111 <= places <= 6176:
        raise FeelTypeError("scale must be between -6111 and 6176")
    exponent = Decimal(1).scaleb(-places)
    if value.is_zero() or value.adjusted() + places >= DECIMAL.prec:
        # already exact at that scale (or beyond 34 digits): nothing to round
        return value if not value.is_zero() else Decimal(0)
    result = value.quantize(exponent, rounding=rounding, context=DECIMAL)
    return result if result != 0 else Decimal(0)


@builtin("decimal", "n, scale")
def decimal(n: Any, scale: Any) -> Decimal:
    return _round(n, a.given(scale, "scale"), ROUND_HALF_EVEN)


@builtin("floor", "n, scale?")
def floor(n: Any, scale: Any = ABSENT) -> Decimal:
    return _round(n, scale, ROUND_FLOOR)


@builtin("ceiling", "n, scale?")
def ceiling(n: Any, scale: Any = ABSENT) -> Decimal:
    return _round(n, scale, ROUND_CEILING)


@builtin("round up", "n, scale?")
def round_up(n: Any, scale: Any = ABSENT) -> Decimal:
    return _round(n, scale, ROUND_UP)


@builtin("round down", "n, scale?")
def round_down(n: Any, scale: Any = ABSENT) -> Decimal:
    return _round(n, scale, ROUND_DOWN)


@builtin("round half up", "n, scale?")
def round_half_up(n: Any, scale: Any = ABSENT) -> Decimal:
    return _round(n, scale, ROUND_HALF_UP)


@builtin("round half down", "n, scale?")
def round_half_down(n: Any, scale: Any = ABSENT) -> Decimal:
    return _round(n, scale, ROUND_HALF_DOWN)


@builtin("abs", "n")
def abs_(n: Any) -> Any:
    if isinstance(n, YearsMonthsDuration):
        return YearsMonthsDuration(abs(n.months))
    if isinstance(n, DaysTimeDuration):
        return DaysTimeDuration(abs(n.seconds))
    return DECIMAL.abs(a.number(n, "n"))


@builtin("modulo", "dividend, divisor")
def modulo(dividend: Any, divisor: Any) -> Decimal:
    x, y = a.number(dividend, "dividend"), a.number(divisor, "divisor")
    if y == 0:
        raise FeelTypeError("divisor is zero")
    quotient = DECIMAL.divide(x, y).to_integral_value(rounding=ROUND_FLOOR)
    return DECIMAL.subtract(x, DECIMAL.multiply(y, quotient))


@builtin("sqrt", "number")
def sqrt(number: Any) -> Decimal:
    value = a.number(number)
    if value < 0:
        raise FeelTypeError("square root of a negative number")
    return DECIMAL.sqrt(value)


@builtin("log", "number")
def log(number: Any) -> Decimal:
    value = a.number(number)
    if value <= 0:
        raise FeelTypeError("logarithm of a number that is not positive")
    return DECIMAL.ln(value)


@builtin("exp", "number")
def exp(number: Any) -> Decimal:
    return DECIMAL.exp(a.number(number))


def _integral(number: Any) -> int | None:
    value = a.number(number)
    return int(value) if value == value.to_integral_value() else None


@builtin("odd", "number")
def odd(number: Any) -> bool:
    value = _integral(number)
    return value is not None and value % 2 == 1


@builtin("even", "number")
def even(number: Any) -> bool:
    value = _integral(number)
    return value is not None and value % 2 == 0
