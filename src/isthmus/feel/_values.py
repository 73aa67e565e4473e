"""Kinds, equality, ordering and conversions of FEEL values (DMN 1.5 §10.3.2.2, §10.3.2.9)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from isthmus.feel._types import (
    DECIMAL,
    DaysTimeDuration,
    Equals,
    FeelFunction,
    NotEqual,
    Range,
    YearsMonthsDuration,
)

NUMBER = "number"
STRING = "string"
BOOLEAN = "boolean"
DATE = "date"
TIME = "time"
DATE_TIME = "date and time"
YM_DURATION = "years and months duration"
DT_DURATION = "days and time duration"
LIST = "list"
CONTEXT = "context"
RANGE = "range"
FUNCTION = "function"
NULL = "Null"

_KINDS: dict[type, str] = {
    Decimal: NUMBER,
    int: NUMBER,
    float: NUMBER,
    str: STRING,
    bool: BOOLEAN,
    dt.date: DATE,
    dt.time: TIME,
    dt.datetime: DATE_TIME,
    YearsMonthsDuration: YM_DURATION,
    DaysTimeDuration: DT_DURATION,
    list: LIST,
    tuple: LIST,
    dict: CONTEXT,
    Range: RANGE,
    FeelFunction: FUNCTION,
    type(None): NULL,
    Equals: "unary test",
    NotEqual: "unary test",
}

#: kinds whose values are totally ordered among themselves (DMN 1.5 Table 55)
_ORDERED = frozenset({NUMBER, STRING, DATE, TIME, DATE_TIME, YM_DURATION, DT_DURATION})


def kind(value: Any) -> str:
    """The FEEL type name of a value, e.g. ``"date and time"``; unknown Python objects are ``"Any"``."""
    found = _KINDS.get(value.__class__)
    if found is not None:
        return found
    for cls, name in _KINDS.items():
        if isinstance(value, cls) and cls is not int:
            return name
    return "Any"


def feel_type_of(value: Any) -> str:
    """Public name of :func:`kind`: ``feel_type_of(Decimal(1)) == "number"``."""
    return kind(value)


def equal(a: Any, b: Any) -> bool | None:
    """FEEL ``=``: null equals only null; values of different kinds are not comparable (null)."""
    if a is None or b is None:
        return a is None and b is None
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return False if {ka, kb} <= {RANGE, "unary test"} else None
    if ka == LIST:
        return _equal_lists(a, b)
    if ka == CONTEXT:
        return _equal_contexts(a, b)
    if ka == DATE_TIME:
        # the value resolution of times is the second (TCK 0068 datetime_003_a, time_005)
        if (a.tzinfo is None) != (b.tzinfo is None):
            return False
        return bool(a.replace(microsecond=0) == b.replace(microsecond=0))
    if ka == TIME:
        return bool(_time_key(a.replace(microsecond=0)) == _time_key(b.replace(microsecond=0)))
    if ka == RANGE:
        return _equal_ranges(a, b)
    if ka == "unary test":
        return a.__class__ is b.__class__ and equal(a.value, b.value) is True
    return bool(a == b)


def _equal_lists(a: Any, b: Any) -> bool | None:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        same = equal(x, y)
        if same is not True:
            return same
    return True


def _equal_contexts(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool | None:
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        same = equal(x, b[key])
        if same is not True:
            return same
    return True


def _equal_ranges(a: Range, b: Range) -> bool:
    return (
        equal(a.start, b.start) is True
        and equal(a.end, b.end) is True
        and a.start_included == b.start_included
        and a.end_included == b.end_included
    )


def _time_key(t: dt.time) -> Any:
    offset = time_offset(t)
    seconds = t.hour * 3600 + t.minute * 60 + t.second + Decimal(t.microsecond) / 1000000
    if offset is None:
        return ("local", seconds)
    return ("offset", (seconds - Decimal(offset.total_seconds())) % 86400)


def time_offset(t: dt.time) -> dt.timedelta | None:
    """The UTC offset of a time; zone ids are resolved on today's date."""
    if t.tzinfo is None:
        return None
    if isinstance(t.tzinfo, ZoneInfo):
        return dt.datetime.combine(dt.date.today(), t, tzinfo=t.tzinfo).utcoffset()
    return t.utcoffset()


def compare(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 when ``a`` and ``b`` are ordered FEEL values of one kind, else ``None``."""
    if a is None or b is None:
        return None
    ka = kind(a)
    if ka != kind(b) or ka not in _ORDERED:
        return None
    if ka == TIME:
        a, b = _time_key(a), _time_key(b)
        if a[0] != b[0]:
            return None
        a, b = a[1], b[1]
    elif ka == DATE_TIME and (a.tzinfo is None) != (b.tzinfo is None):
        return None
    return -1 if a < b else (1 if a > b else 0)


def normalize(value: Any) -> Any:
    """Python scalars as FEEL values: ``int``/``float`` become ``Decimal`` (shallow)."""
    cls = value.__class__
    if cls is int:
        return Decimal(value)
    if cls is float:
        return _from_float(value)
    if cls is tuple:
        return list(value)
    return value


def _from_float(value: float) -> Decimal | None:
    if not math.isfinite(value):
        return None
    return Decimal(repr(value))


_AS_IS = frozenset({str, bool})


def to_feel(value: Any) -> Any:
    """Convert JSON-like Python data into FEEL values, deeply.

    ``int``/``float`` become ``Decimal`` (floats through their shortest ``repr``; NaN and infinities
    become null), tuples become lists, mappings become ``dict`` with ``str`` keys. Strings stay strings:
    no implicit date parsing. FEEL values (dates, durations, ranges, functions) pass unchanged.

    >>> to_feel({"amount": 1.5, "tags": ("a",)})
    {'amount': Decimal('1.5'), 'tags': ['a']}
    """
    cls = value.__class__
    if cls is str or cls is bool or value is None:  # the common JSON shapes first, by exact class
        return value
    if cls is int:
        return Decimal(value)
    if cls is dict:  # text, booleans and nulls stay as they are without a call per entry
        return {
            k if k.__class__ is str else str(k): v if v.__class__ in _AS_IS or v is None else to_feel(v)
            for k, v in value.items()
        }
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return _from_float(value)
    if isinstance(value, Mapping):
        return {str(k): to_feel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_feel(v) for v in value]
    return value


def from_feel(value: Any) -> Any:
    """Convert a FEEL value into JSON-able Python data.

    Numbers: an integral ``Decimal`` becomes ``int``; another becomes ``float`` when the float prints
    back as the same decimal (``1.5``), else its exact decimal string (``"0.1000000000000000000000001"``).
    Dates, times, date-times and durations become their FEEL ``string()`` form (ISO 8601, with
    ``@zone`` for zone ids); ranges become ``{"start", "end", "start included", "end included"}``;
    functions become null.
    """
    cls = value.__class__
    if cls is str or cls is bool or value is None:
        return value
    if cls is Decimal:
        return _number_to_json(value)
    if cls is dict:
        return {k if k.__class__ is str else str(k): from_feel(v) for k, v in value.items()}
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, Decimal):
        return _number_to_json(value)
    if isinstance(value, list | tuple):
        return [from_feel(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): from_feel(v) for k, v in value.items()}
    if isinstance(value, Range):
        return {
            "start": from_feel(value.start),
            "end": from_feel(value.end),
            "start included": value.start_included,
            "end included": value.end_included,
        }
    if isinstance(value, FeelFunction):
        return None
    return to_string(value)


def _number_to_json(value: Decimal) -> int | float | str | None:
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    return format(value, "f")


def to_string(value: Any) -> str | None:
    """FEEL ``string(from)`` (DMN 1.5 §10.3.4.1); ``None`` for null."""
    k = kind(value)
    formatter = _STRINGERS.get(k)
    if formatter is not None:
        return str(formatter(value))
    if value is None:
        return None
    return str(value)


def number_text(value: Decimal | int) -> str:
    """A number without exponent or trailing zeros: ``1.50`` → ``"1.5"``, ``1E+2`` → ``"100"``."""
    d = Decimal(value)
    if d == d.to_integral_value():
        return format(d.quantize(Decimal(1)), "f") if d.adjusted() < 40 else format(d, "f")
    return format(d.normalize(DECIMAL), "f")


def _time_text(t: dt.time) -> str:
    text = t.strftime("%H:%M:%S")
    if t.microsecond:
        text += ("%.6f" % (t.microsecond / 1e6))[1:].rstrip("0")
    return text + _zone_text(t.tzinfo, t.utcoffset() if not isinstance(t.tzinfo, ZoneInfo) else None)


def _zone_text(tz: dt.tzinfo | None, offset: dt.timedelta | None) -> str:
    if tz is None:
        return ""
    if isinstance(tz, ZoneInfo):
        return "@" + tz.key
    if offset is None:
        return ""
    if not offset:
        return "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    total = int(abs(offset).total_seconds())
    text = f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"
    return text + (f":{total % 60:02d}" if total % 60 else "")


def _date_text(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _datetime_text(d: dt.datetime) -> str:
    time = _time_text(d.time())
    offset = None if isinstance(d.tzinfo, ZoneInfo) else d.utcoffset()
    return _date_text(d) + "T" + time + _zone_text(d.tzinfo, offset)


def _list_text(items: list[Any]) -> str:
    return "[" + ", ".join(_nested_text(v) for v in items) + "]"


_PLAIN_KEY = re.compile(r"[^\W\d]\w*(?: \w+)*")


def _context_text(context: dict[str, Any]) -> str:
    keys = [k if _PLAIN_KEY.fullmatch(k) else _nested_text(k) for k in context]
    return (
        "{" + ", ".join(f"{k}: {_nested_text(v)}" for k, v in zip(keys, context.values(), strict=True)) + "}"
    )


def _nested_text(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return to_string(value) or "null"


_STRINGERS: dict[str, Any] = {
    NUMBER: number_text,
    STRING: str,
    BOOLEAN: lambda b: "true" if b else "false",
    DATE: _date_text,
    TIME: _time_text,
    DATE_TIME: _datetime_text,
    YM_DURATION: str,
    DT_DURATION: str,
    LIST: _list_text,
    CONTEXT: _context_text,
    RANGE: lambda r: _range_text(r),
}


def _range_text(r: Range) -> str:
    start = _nested_text(r.start) if r.start is not None else ""
    end = _nested_text(r.end) if r.end is not None else ""
    if r.start is None:
        return ("<=" if r.end_included else "<") + " " + end
    if r.end is None:
        return (">=" if r.start_included else ">") + " " + start
    return ("[" if r.start_included else "(") + start + ".." + end + ("]" if r.end_included else ")")
