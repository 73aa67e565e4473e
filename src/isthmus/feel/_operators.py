"""Arithmetic on FEEL values (DMN 1.5 §10.3.2.3, Tables 56–59): numbers, strings, dates and durations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, DecimalException
from typing import Any

from isthmus.feel import _temporal as tm
from isthmus.feel._runtime import check_size, warn
from isthmus.feel._types import DECIMAL, DaysTimeDuration, YearsMonthsDuration
from isthmus.feel._values import (
    DATE,
    DATE_TIME,
    DT_DURATION,
    NUMBER,
    STRING,
    TIME,
    YM_DURATION,
    kind,
)

Binary = Callable[[Any, Any], Any]
YMD, DTD = YearsMonthsDuration, DaysTimeDuration


def _number(value: Any) -> Decimal:
    return value if value.__class__ is Decimal else Decimal(value)


def _mismatch(symbol: str, a: Any, b: Any) -> None:
    if a is not None and b is not None:
        warn(f"cannot apply {symbol} to {kind(a)} and {kind(b)}")


def _moment_plus(value: Any, duration: Any, sign: int) -> Any:
    if isinstance(duration, YMD):
        return tm.add_months(value, sign * duration.months)
    if value.__class__ is dt.date:
        return (tm.as_date_time(value) + sign * tm.to_timedelta(duration)).date()
    return value + sign * tm.to_timedelta(duration)


def _add_kinds(a: Any, b: Any, ka: str, kb: str) -> Any:
    if ka == kb == STRING:
        return check_size(a + b)
    if ka == kb == YM_DURATION:
        return YMD(a.months + b.months)
    if ka == kb == DT_DURATION:
        return DTD(DECIMAL.add(a.seconds, b.seconds))
    if ka in (DATE, DATE_TIME) and kb in (YM_DURATION, DT_DURATION):
        return _moment_plus(a, b, 1)
    if kb in (DATE, DATE_TIME) and ka in (YM_DURATION, DT_DURATION):
        return _moment_plus(b, a, 1)
    if ka == TIME and kb == DT_DURATION:
        return tm.time_plus(a, b.seconds)
    if kb == TIME and ka == DT_DURATION:
        return tm.time_plus(b, a.seconds)
    _mismatch("+", a, b)
    return None


def add(a: Any, b: Any) -> Any:
    if a.__class__ is Decimal and b.__class__ is Decimal:
        return DECIMAL.add(a, b)
    ka, kb = kind(a), kind(b)
    if ka == kb == NUMBER:
        return DECIMAL.add(_number(a), _number(b))
    return _add_kinds(a, b, ka, kb)


def _subtract_kinds(a: Any, b: Any, ka: str, kb: str) -> Any:
    if ka == kb == YM_DURATION:
        return YMD(a.months - b.months)
    if ka == kb == DT_DURATION:
        return DTD(DECIMAL.subtract(a.seconds, b.seconds))
    if ka in (DATE, DATE_TIME) and kb in (DATE, DATE_TIME):
        return tm.moment_minus(a, b)
    if ka in (DATE, DATE_TIME) and kb in (YM_DURATION, DT_DURATION):
        return _moment_plus(a, b, -1)
    if ka == kb == TIME:
        return tm.time_minus(a, b)
    if ka == TIME and kb == DT_DURATION:
        return tm.time_plus(a, -b.seconds)
    _mismatch("-", a, b)
    return None


def subtract(a: Any, b: Any) -> Any:
    if a.__class__ is Decimal and b.__class__ is Decimal:
        return DECIMAL.subtract(a, b)
    ka, kb = kind(a), kind(b)
    if ka == kb == NUMBER:
        return DECIMAL.subtract(_number(a), _number(b))
    return _subtract_kinds(a, b, ka, kb)


def multiply(a: Any, b: Any) -> Any:
    if a.__class__ is Decimal and b.__class__ is Decimal:
        return DECIMAL.multiply(a, b)
    ka, kb = kind(a), kind(b)
    if ka == kb == NUMBER:
        return DECIMAL.multiply(_number(a), _number(b))
    if ka == NUMBER and kb in (YM_DURATION, DT_DURATION):
        a, b, ka, kb = b, a, kb, ka
    if kb == NUMBER and ka == YM_DURATION:
        return tm.scale_months(a.months, _number(b))
    if kb == NUMBER and ka == DT_DURATION:
        return DTD(DECIMAL.multiply(a.seconds, _number(b)))
    _mismatch("*", a, b)
    return None


def divide(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if kb == NUMBER and _number(b) == 0:
        if a is not None:
            warn("division by zero")
        return None
    if ka == kb == NUMBER:
        return DECIMAL.divide(_number(a), _number(b))
    if kb == NUMBER and ka == YM_DURATION:
        return tm.scale_months(a.months, DECIMAL.divide(1, _number(b)))
    if kb == NUMBER and ka == DT_DURATION:
        return DTD(DECIMAL.divide(a.seconds, _number(b)))
    if ka == kb == YM_DURATION and b.months:
        return DECIMAL.divide(Decimal(a.months), Decimal(b.months))
    if ka == kb == DT_DURATION and b.seconds:
        return DECIMAL.divide(a.seconds, b.seconds)
    _mismatch("/", a, b)
    return None


def power(a: Any, b: Any) -> Any:
    if kind(a) == kind(b) == NUMBER:
        return DECIMAL.power(_number(a), _number(b))
    _mismatch("**", a, b)
    return None


def negate(a: Any) -> Any:
    k = kind(a)
    if k == NUMBER:
        return DECIMAL.minus(_number(a))
    if k == YM_DURATION:
        return YMD(-a.months)
    if k == DT_DURATION:
        return DTD(-a.seconds)
    if a is not None:
        warn(f"cannot negate a {k}")
    return None


def guarded(operation: Binary, symbol: str) -> Binary:
    """Wrap an operator so that Python errors (overflow, invalid dates) become null plus a warning."""

    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        try:
            return operation(a, b)
        except (DecimalException, ArithmeticError, ValueError, TypeError) as error:
            warn(f"{symbol}: {type(error).__name__}")
            return None

    return apply


OPERATORS: dict[str, Binary] = {
    "+": guarded(add, "+"),
    "-": guarded(subtract, "-"),
    "*": guarded(multiply, "*"),
    "/": guarded(divide, "/"),
    "**": guarded(power, "**"),
}
