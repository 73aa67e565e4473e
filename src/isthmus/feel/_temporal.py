"""Parsing and arithmetic of FEEL dates, times and durations (DMN 1.5 §10.3.2.3.4–7, Table 57)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from isthmus.feel._types import DECIMAL, DaysTimeDuration, YearsMonthsDuration

_DATE = re.compile(r"(-?(?:[1-9]\d{4,8}|\d{4}))-(\d\d)-(\d\d)")
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d(?::\d\d)?|@[A-Za-z_][\w/+\-]*)?")
_DURATION = re.compile(
    r"(-)?P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?"
)
_MILLION = Decimal(1_000_000)
UTC = dt.UTC


def parse_date(text: str) -> dt.date | None:
    """``date("2024-01-31")``; years outside 1..9999 are not representable and give null."""
    found = _DATE.fullmatch(text)
    if not found:
        return None
    try:
        return dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def _zone(text: str | None) -> dt.tzinfo | bool | None:
    """The tzinfo of a time suffix, None for local, False when invalid."""
    if not text:
        return None
    if text == "Z":
        return UTC
    if text.startswith("@"):
        try:
            return ZoneInfo(text[1:])
        except (ValueError, KeyError, OSError):
            return False
    sign = -1 if text[0] == "-" else 1
    parts = [int(p) for p in text[1:].split(":")]
    offset = dt.timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2] if len(parts) > 2 else 0)
    if offset > dt.timedelta(hours=14):
        return False
    return dt.timezone(sign * offset)


def parse_time(text: str) -> dt.time | None:
    """``time("10:30:00+01:00")``, ``time("10:30:00@Europe/Paris")``; fractions beyond µs are cut."""
    found = _TIME.fullmatch(text)
    if not found:
        return None
    zone = _zone(found[5])
    if zone is False:
        return None
    micro = int((found[4] or ".0")[1:7].ljust(6, "0"))
    try:
        return dt.time(int(found[1]), int(found[2]), int(found[3]), micro, tzinfo=zone or None)  # type: ignore[arg-type]
    except ValueError:
        return None


def parse_date_time(text: str) -> dt.datetime | None:
    """``date and time("2024-01-31T10:00:00Z")``; a bare date means its midnight."""
    date_part, sep, time_part = text.partition("T")
    date = parse_date(date_part)
    if date is None:
        return None
    if not sep:
        return dt.datetime(date.year, date.month, date.day)
    if time_part.startswith("24:00:00") and _TIME.fullmatch(time_part.replace("24:", "00:", 1)):
        time = parse_time(time_part.replace("24:", "00:", 1))
        return None if time is None else dt.datetime.combine(date + dt.timedelta(days=1), time)
    time = parse_time(time_part)
    return None if time is None else dt.datetime.combine(date, time)


def parse_duration(text: str) -> YearsMonthsDuration | DaysTimeDuration | None:
    """``duration("P1Y2M")`` or ``duration("-P2DT3H")``; mixing the two kinds gives null."""
    found = _DURATION.fullmatch(text)
    if not found or text.endswith("T"):
        return None
    sign = -1 if found[1] else 1
    years, months, days, hours, minutes, seconds = found.groups()[1:]
    if (years or months) and not (days or hours or minutes or seconds):
        return YearsMonthsDuration(sign * (int(years or 0) * 12 + int(months or 0)))
    if years or months:
        return None
    total = int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + Decimal(seconds or 0)
    return DaysTimeDuration(sign * total)


def to_timedelta(duration: DaysTimeDuration) -> dt.timedelta:
    whole = int(duration.seconds)
    return dt.timedelta(seconds=whole, microseconds=int((duration.seconds - whole) * _MILLION))


def from_timedelta(delta: dt.timedelta) -> DaysTimeDuration:
    micro = Decimal(delta.microseconds) / _MILLION
    return DaysTimeDuration(Decimal(delta.days * 86400 + delta.seconds) + micro)


def add_months(value: Any, months: int) -> Any:
    """Calendar month arithmetic; the day is clamped to the month's end (Jan 31 + 1 month = Feb 28)."""
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def as_date_time(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day)


def seconds_of_day(t: dt.time) -> Decimal:
    return Decimal(t.hour * 3600 + t.minute * 60 + t.second) + Decimal(t.microsecond) / _MILLION


def time_plus(t: dt.time, seconds: Decimal) -> dt.time:
    total = seconds_of_day(t) + seconds
    total -= 86400 * (total // 86400 if total >= 0 else (total - 86399) // 86400)
    whole = int(total)
    micro = int((total - whole) * _MILLION)
    return dt.time(whole // 3600, whole % 3600 // 60, whole % 60, micro, tzinfo=t.tzinfo)


def time_minus(a: dt.time, b: dt.time) -> DaysTimeDuration | None:
    """``time - time``: both local, or both with an offset (compared in UTC)."""
    if (a.tzinfo is None) != (b.tzinfo is None):
        return None
    today = dt.date(2000, 1, 1)
    first, second = dt.datetime.combine(today, a), dt.datetime.combine(today, b)
    return from_timedelta(first - second)


def _utc_midnight(value: dt.date) -> dt.datetime:
    return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)


def moment_minus(a: dt.date, b: dt.date) -> DaysTimeDuration | None:
    """``date - date``, ``date and time - date and time``; a date next to a date-time is its UTC midnight.

    A date-time without a zone cannot meet a date (TCK 0100: "both must have zone info").
    """
    a_time, b_time = isinstance(a, dt.datetime), isinstance(b, dt.datetime)
    if a_time == b_time:
        return date_time_minus(as_date_time(a), as_date_time(b))
    moment = a if a_time else b
    if moment.tzinfo is None:  # type: ignore[attr-defined]
        return None
    first = a if a_time else _utc_midnight(a)
    second = b if b_time else _utc_midnight(b)
    return from_timedelta(first - second)


def date_time_minus(a: dt.datetime, b: dt.datetime) -> DaysTimeDuration | None:
    if (a.tzinfo is None) != (b.tzinfo is None):
        return None  # a local date-time and one with a zone have no defined difference (TCK 0100)
    return from_timedelta(a - b)


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from ``start`` to ``end`` by calendar date (``years and months duration(from, to)``)."""
    a = start.date() if isinstance(start, dt.datetime) else start
    b = end.date() if isinstance(end, dt.datetime) else end
    months = (b.year - a.year) * 12 + b.month - a.month
    if months > 0 and b.day < a.day:
        months -= 1
    elif months < 0 and b.day > a.day:
        months += 1
    return months


def scale_months(months: int, factor: Decimal) -> YearsMonthsDuration:
    return YearsMonthsDuration(int(DECIMAL.multiply(Decimal(months), factor)))
