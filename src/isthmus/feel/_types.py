"""FEEL values that have no exact Python counterpart (DMN 1.5 §10.3.2).

Numbers are :class:`decimal.Decimal`, strings ``str``, booleans ``bool``, null ``None``, dates
``datetime.date``, times ``datetime.time`` and date-times ``datetime.datetime``; lists and contexts are
``list`` and ``dict``. This module adds the two durations, ranges and functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

#: IEEE 754 decimal128: 34 digits, round half even (DMN 1.5 §10.3.2.3.1).
DECIMAL = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    Emax=6144,
    Emin=-6143,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


@dataclass(frozen=True, order=True, slots=True)
class YearsMonthsDuration:
    """A years-and-months duration, e.g. ``duration("P1Y2M")`` is ``YearsMonthsDuration(14)``."""

    months: int

    def __str__(self) -> str:
        sign = "-" if self.months < 0 else ""
        years, months = divmod(abs(self.months), 12)
        if not years and not months:
            return "P0M"
        return sign + "P" + (f"{years}Y" if years else "") + (f"{months}M" if months else "")


@dataclass(frozen=True, order=True, slots=True)
class DaysTimeDuration:
    """A days-and-time duration held as exact seconds, e.g. ``duration("PT1M")`` is ``DaysTimeDuration(60)``."""

    seconds: Decimal

    def __str__(self) -> str:
        total = abs(self.seconds)
        sign = "-" if self.seconds < 0 else ""
        whole = int(total)
        fraction = total - whole
        days, rest = divmod(whole, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        text = "P" + (f"{days}D" if days else "")
        time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        if secs or fraction:
            time += _plain(Decimal(secs) + fraction) + "S"
        if time:
            text += "T" + time
        return sign + text if text != "P" else "PT0S"


def _plain(number: Decimal) -> str:
    return format(number.normalize(DECIMAL), "f")


@dataclass(frozen=True, slots=True)
class Range:
    """A FEEL range such as ``[1..10)``; ``start``/``end`` are ``None`` for ``< 10``-style open ranges."""

    start: Any
    end: Any
    start_included: bool = True
    end_included: bool = True

    def __str__(self) -> str:
        if self.start is None and self.end is not None:
            return ("<=" if self.end_included else "<") + " " + str(self.end)
        if self.end is None and self.start is not None:
            return (">=" if self.start_included else ">") + " " + str(self.start)
        left = "[" if self.start_included else "("
        right = "]" if self.end_included else ")"
        return f"{left}{self.start}..{self.end}{right}"


@dataclass(frozen=True, slots=True, eq=False)
class FeelFunction:
    """A function value, callable from FEEL with positional or named arguments.

    ``body`` receives positional arguments in ``params`` order (missing ones as ``None``). The DMN
    engine wraps business knowledge models and decision services this way::

        double = FeelFunction(["x"], lambda x: x * 2, name="double")
        compile_expression("double(x: 4)").evaluate({"double": double})  # Decimal(8)

    ``param_types`` optionally names a FEEL type per parameter (e.g. ``"number"``); an argument
    that does not conform makes the invocation null.
    """

    params: Sequence[str]
    body: Callable[..., Any]
    name: str = ""
    param_types: Sequence[str | None] | None = field(default=None)

    def __call__(self, *args: Any) -> Any:
        return self.body(*args)

    def __repr__(self) -> str:
        return f"FeelFunction({self.name or 'anonymous'}({', '.join(self.params)}))"


class Equals:
    """The value of the DMN 1.5 unary test ``= e``: it matches every input equal to ``e``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"= {self.value!r}"


class NotEqual:
    """The value of the DMN 1.5 unary test ``!= e``: it matches every input not equal to ``e``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"!= {self.value!r}"
