"""The numpy parser of fixed-width ISO 8601 columns agrees with Python's ``fromisoformat``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from isthmus.mining import _timestamps

OFFSETS = st.sampled_from(["", "Z", "+00:00", "+08:00", "-05:30", "+14:00", "-00:45"])


@st.composite
def columns(draw: st.DrawFn) -> list[str | None]:
    separator = draw(st.sampled_from(["T", " "]))
    digits = draw(st.integers(0, 6))
    offsets = draw(st.lists(OFFSETS, min_size=1, max_size=3))
    if len({len(o) for o in offsets}) > 1:
        offsets = offsets[:1]
    values: list[str | None] = []
    for _ in range(draw(st.integers(1, 30))):
        if draw(st.integers(0, 9)) == 0:
            values.append(None)
            continue
        moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
        text = f"{moment.year:04d}" + moment.strftime(f"-%m-%d{separator}%H:%M:%S")
        if digits:
            text += "." + f"{moment.microsecond:06d}"[:digits]
        values.append(text + draw(st.sampled_from(offsets)))
    return values


def _expected(value: str | None, zone: timezone) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


@settings(max_examples=200, deadline=None)
@given(columns())
def test_equals_fromisoformat(values: list[str | None]) -> None:
    series = pl.Series("t", values, dtype=pl.String)
    parsed = _timestamps.parse_timestamps(series, zone="UTC")
    assert parsed.dtype == pl.Datetime("us", "UTC")
    assert parsed.to_list() == [_expected(v, UTC) for v in values]


def test_the_fast_path_takes_a_regular_column_and_leaves_anything_odd() -> None:
    good = pl.Series(["2024-02-29T23:59:59.5+08:00", "2023-12-31T00:00:00.0-01:00"])
    assert _timestamps._fixed_width_iso(good, "UTC") is not None
    assert _timestamps._fixed_width_iso(good, "UTC").to_list() == [  # type: ignore[union-attr]
        datetime(2024, 2, 29, 15, 59, 59, 500000, tzinfo=UTC),
        datetime(2023, 12, 31, 1, tzinfo=UTC),
    ]
    for odd in (
        ["2023-02-29T00:00:00", "2024-01-01T00:00:00"],  # not a day of 2023
        ["2024-01-01T24:00:00", "2024-01-01T00:00:00"],
        ["2024-01-01T00:00:00", "2024-01-01X00:00:00"],
        ["2024-01-01T00:00:00", "2024-0a-01T00:00:00"],
        ["2024-01-01T00:00:00+01:00", "2024-01-01T00:00:00*01:00"],
        ["2024-01-01T00:00:00", "2024-01-01T00:00:0٣"],
    ):
        assert _timestamps._fixed_width_iso(pl.Series(odd), "UTC") is None


def test_a_naive_column_is_read_in_the_given_zone() -> None:
    parsed = _timestamps.parse_timestamps(pl.Series(["2024-06-30 08:00:00"]), zone="Asia/Shanghai")
    assert parsed.to_list() == [datetime(2024, 6, 30, tzinfo=UTC)]
    assert parsed[0] - datetime(2024, 6, 29, 23, tzinfo=UTC) == timedelta(hours=1)
