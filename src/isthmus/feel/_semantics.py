"""Membership, unary-test matching and path access on FEEL values (DMN 1.5 §10.3.2.9, Table 53, §10.3.2.7)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from isthmus.feel._functions import invoke
from isthmus.feel._runtime import warn
from isthmus.feel._temporal import from_timedelta
from isthmus.feel._types import DaysTimeDuration, Equals, FeelFunction, NotEqual, Range, YearsMonthsDuration
from isthmus.feel._values import compare, equal, normalize, time_offset


def in_range(value: Any, r: Range) -> bool | None:
    """Whether ``value`` lies in ``r``; null when it cannot be compared with an endpoint."""
    if r.start is not None:
        side = compare(value, r.start)
        if side is None:
            return None
        if side < 0 or (side == 0 and not r.start_included):
            return False
    if r.end is not None:
        side = compare(value, r.end)
        if side is None:
            return None
        if side > 0 or (side == 0 and not r.end_included):
            return False
    return True


def match_value(value: Any, test: Any) -> bool | None:
    """``value in test`` where ``test`` is the value of a positive unary test (Table 53)."""
    cls = test.__class__
    if cls is Range:
        return in_range(value, test)
    if cls is list:
        return _match_list(value, test)
    if cls is NotEqual:
        same = equal(value, test.value)
        return None if same is None else not same
    if cls is Equals:
        return equal(value, test.value)
    if test is None:
        return True if value is None else None
    if isinstance(test, FeelFunction):
        result = invoke(test, [value])
        return result if isinstance(result, bool) else None
    return equal(value, test)


def _match_list(value: Any, tests: list[Any]) -> bool:
    if isinstance(value, list) and equal(value, tests) is True:
        return True
    for test in tests:
        outcome = equal(value, test) if isinstance(test, list) else match_value(value, test)
        if outcome is True:
            return True
    return False


def _date_properties(value: dt.date, name: str) -> Any:
    if name == "year":
        return Decimal(value.year)
    if name == "month":
        return Decimal(value.month)
    if name == "day":
        return Decimal(value.day)
    if name == "weekday":
        return Decimal(value.isoweekday())
    return _MISSING


def _clock_properties(value: dt.time | dt.datetime, name: str) -> Any:
    if name == "hour":
        return Decimal(value.hour)
    if name == "minute":
        return Decimal(value.minute)
    if name == "second":
        return Decimal(value.second) + Decimal(value.microsecond) / 1000000
    if name == "time offset":
        offset = time_offset(value) if isinstance(value, dt.time) else value.utcoffset()
        return None if offset is None else from_timedelta(offset)
    if name == "timezone":
        return value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None
    return _MISSING


def _duration_properties(value: Any, name: str) -> Any:
    if isinstance(value, YearsMonthsDuration):
        sign = -1 if value.months < 0 else 1
        years, months = divmod(abs(value.months), 12)
        return {"years": Decimal(sign * years), "months": Decimal(sign * months)}.get(name, _MISSING)
    seconds = value.seconds
    sign = -1 if seconds < 0 else 1
    whole = int(abs(seconds))
    parts = {
        "days": whole // 86400,
        "hours": whole % 86400 // 3600,
        "minutes": whole % 3600 // 60,
        "seconds": whole % 60,
    }
    if name not in parts:
        return _MISSING
    return Decimal(sign * parts[name])


def _range_properties(value: Range | Equals, name: str) -> Any:
    if isinstance(value, Equals):
        # ``(=10)`` is the degenerate range [10..10] (TCK 0074)
        return {"start": value.value, "end": value.value, "start included": True, "end included": True}.get(
            name, _MISSING
        )
    return {
        "start": value.start,
        "end": value.end,
        "start included": value.start_included,
        "end included": value.end_included,
    }.get(name, _MISSING)


_MISSING = object()


def _property(value: Any, name: str) -> Any:
    found: Any = _MISSING
    if isinstance(value, dt.datetime):
        found = _date_properties(value, name)
        if found is _MISSING:
            found = _clock_properties(value, name)
    elif isinstance(value, dt.date):
        found = _date_properties(value, name)
    elif isinstance(value, dt.time):
        found = _clock_properties(value, name)
    elif isinstance(value, YearsMonthsDuration | DaysTimeDuration):
        found = _duration_properties(value, name)
    elif isinstance(value, Range | Equals):
        found = _range_properties(value, name)
    return found


def path(value: Any, name: str) -> Any:
    """``value.name``: a context entry, a property of a date, duration or range, mapped over lists."""
    cls = value.__class__
    if cls is dict:
        return normalize(value[name]) if name in value else None
    if cls is list:
        return [path(item, name) for item in value]
    if value is None:
        return None
    found = _property(value, name)
    if found is _MISSING:
        warn(f"no property {name!r} on {type(value).__name__}")
        return None
    return found
