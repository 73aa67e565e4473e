"""Date and time functions (DMN 1.5 §10.3.4.7, §10.3.4.10): calendar facts, ``now``/``today``, ``is``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from isthmus.feel import _args as a
from isthmus.feel._functions import builtin
from isthmus.feel._values import equal, kind, to_string

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@builtin("day of year", "date")
def day_of_year(date: Any) -> Decimal:
    return Decimal(a.date_like(date).timetuple().tm_yday)


@builtin("day of week", "date")
def day_of_week(date: Any) -> str:
    return _DAYS[a.date_like(date).weekday()]


@builtin("month of year", "date")
def month_of_year(date: Any) -> str:
    return _MONTHS[a.date_like(date).month - 1]


@builtin("week of year", "date")
def week_of_year(date: Any) -> Decimal:
    return Decimal(a.date_like(date).isocalendar()[1])


@builtin("now")
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@builtin("today")
def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@builtin("is", "value1, value2")
def is_(value1: Any, value2: Any) -> bool:
    """Identity: same kind, equal, and for times the same offset or zone (``@"10:00Z"`` is not ``+00:00``…)."""
    if kind(value1) != kind(value2):
        return False
    if isinstance(value1, dt.time | dt.datetime):
        return equal(value1, value2) is True and to_string(value1) == to_string(value2)
    return equal(value1, value2) is True
