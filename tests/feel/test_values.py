"""The Python value mapping: to_feel, from_feel, feel_type_of."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from isthmus.feel import DaysTimeDuration, Range, YearsMonthsDuration, feel_type_of, from_feel, to_feel


def test_to_feel_converts_json_numbers_to_decimals_and_keeps_strings() -> None:
    assert to_feel({"n": 1, "f": 0.1, "s": "2024-01-01", "l": (1, True), "nan": float("nan")}) == {
        "n": Decimal(1),
        "f": Decimal("0.1"),
        "s": "2024-01-01",
        "l": [Decimal(1), True],
        "nan": None,
    }


def test_from_feel_gives_json_values() -> None:
    value = {
        "i": Decimal("3.0"),
        "f": Decimal("0.5"),
        "exact": Decimal("0.1000000000000000000000001"),
        "d": dt.date(2024, 1, 2),
        "ym": YearsMonthsDuration(14),
        "dt": DaysTimeDuration(Decimal(90)),
        "r": Range(Decimal(1), None, True, False),
    }
    assert from_feel(value) == {
        "i": 3,
        "f": 0.5,
        "exact": "0.1000000000000000000000001",
        "d": "2024-01-02",
        "ym": "P1Y2M",
        "dt": "PT1M30S",
        "r": {"start": 1, "end": None, "start included": True, "end included": False},
    }


def test_feel_type_names() -> None:
    values: tuple[object, ...] = (Decimal(1), "s", True, None, dt.date.today(), [], {})
    assert [feel_type_of(v) for v in values] == [
        "number",
        "string",
        "boolean",
        "Null",
        "date",
        "list",
        "context",
    ]
    assert feel_type_of(dt.datetime(2024, 1, 1)) == "date and time"
