"""Conversion functions (DMN 1.5 §10.3.4.1): constructors of dates, times, durations, numbers and strings."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from isthmus.feel import _args as a
from isthmus.feel import _temporal as tm
from isthmus.feel._functions import ABSENT, FeelTypeError, builtin
from isthmus.feel._types import DaysTimeDuration, YearsMonthsDuration
from isthmus.feel._values import to_string

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _parsed(value: Any, what: str) -> Any:
    if value is None:
        raise FeelTypeError(f"{what} must not be null")
    return value


@builtin("date", "from", "year, month, day")
def date(first: Any, month: Any = ABSENT, day: Any = ABSENT) -> dt.date | None:
    if month is not ABSENT or day is not ABSENT:
        return dt.date(a.integer(first, "year"), a.integer(month, "month"), a.integer(day, "day"))
    if isinstance(first, str):
        return _parsed(tm.parse_date(first), "date string")  # type: ignore[no-any-return]
    if isinstance(first, dt.datetime):
        return first.date()
    return a.date_like(first, "from")


@builtin("date and time", "from", "date, time")
def date_and_time(first: Any, time: Any = ABSENT) -> dt.datetime:
    if time is not ABSENT:
        day = a.date_like(first, "date")
        if not isinstance(time, dt.time):
            raise FeelTypeError("time must be a time")
        return dt.datetime.combine(day.date() if isinstance(day, dt.datetime) else day, time)
    if isinstance(first, str):
        return _parsed(tm.parse_date_time(first), "date and time string")  # type: ignore[no-any-return]
    return tm.as_date_time(a.date_like(first, "from"))


def _offset(offset: Any) -> dt.tzinfo | None:
    if offset is None:
        return None
    if not isinstance(offset, DaysTimeDuration):
        raise FeelTypeError("offset must be a days and time duration")
    return dt.timezone(tm.to_timedelta(offset))


@builtin("time", "from", "hour, minute, second, offset?")
def time(first: Any, minute: Any = ABSENT, second: Any = ABSENT, offset: Any = None) -> dt.time:
    if minute is not ABSENT or second is not ABSENT:
        seconds = a.number(second, "second")
        whole = int(seconds)
        micro = int((seconds - whole) * 1_000_000)
        return dt.time(a.integer(first, "hour"), a.integer(minute, "minute"), whole, micro, _offset(offset))
    if isinstance(first, str):
        return _parsed(tm.parse_time(first), "time string")  # type: ignore[no-any-return]
    if isinstance(first, dt.datetime):
        return first.timetz()
    if isinstance(first, dt.date):
        return dt.time(0, 0, 0, tzinfo=dt.UTC)
    if isinstance(first, dt.time):
        return first
    raise FeelTypeError("from must be a string, a time or a date")


@builtin("number", "from, grouping separator?, decimal separator?")
def number(text: Any, grouping: Any = None, decimal_separator: Any = None) -> Decimal:
    s = a.text(text, "from")
    if grouping not in (None, " ", ",", "."):
        raise FeelTypeError("grouping separator must be ' ', ',' or '.'")
    if decimal_separator not in (None, ",", "."):
        raise FeelTypeError("decimal separator must be ',' or '.'")
    if grouping is not None and grouping == decimal_separator:
        raise FeelTypeError("grouping and decimal separators must differ")
    if grouping:
        s = s.replace(grouping, "")
    if decimal_separator:
        s = s.replace(decimal_separator, ".")
    if not _NUMBER.fullmatch(s):
        raise FeelTypeError(f"{text!r} is not a number")
    return Decimal(s)


@builtin("string", "from")
def string(value: Any) -> str | None:
    return to_string(value)


@builtin("duration", "from")
def duration(text: Any) -> Any:
    return _parsed(tm.parse_duration(a.text(text, "from")), "duration string")


@builtin("years and months duration", "from, to")
def years_and_months_duration(start: Any, end: Any) -> YearsMonthsDuration:
    return YearsMonthsDuration(tm.months_between(a.date_like(start, "from"), a.date_like(end, "to")))
