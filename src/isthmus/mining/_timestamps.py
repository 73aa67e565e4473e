"""Timestamps from text to UTC, vectorised where Polars can and exact where it cannot.

Exports write timestamps in many shapes (ISO 8601 with or without an offset, ``2024-06-30 14:05``,
``30.06.2024 14:05:00``). A value with an offset is converted to UTC; a value without one is read
in the zone the caller names (default UTC), because that is what the exporting system meant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl

from isthmus.errors import InvalidInput, Location
from isthmus.mining._schema import TIME_TYPE

_WITH_OFFSET = (
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.fZ",
)
_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d")


def parse_timestamps(
    values: pl.Series,
    *,
    fmt: str | None = None,
    zone: str = "UTC",
    file: str = "",
    column: str = "",
    first_line: int = 2,
    lines: Sequence[int] | None = None,
) -> pl.Series:
    """Parse ``values`` (strings) to ``Datetime(us, UTC)``.

    Raises ``InvalidInput`` naming the line (``first_line`` is the line of the first value) and
    the column of the first value no format reads.
    """
    if values.dtype == pl.Datetime or isinstance(values.dtype, pl.Datetime):
        return _to_utc(values, zone)
    text = values.cast(pl.String)
    if fmt is None:
        fast = _fixed_width_iso(text, zone)
        if fast is not None:
            return fast
    formats = (fmt,) if fmt else _WITH_OFFSET + _NAIVE
    for attempt in (text, text.str.strip_chars()):  # padded values are rare: strip only if needed
        for candidate in formats:
            parsed = _try(attempt, candidate, zone)
            if parsed is not None and parsed.null_count() == attempt.null_count():
                return parsed
    text = text.str.strip_chars()
    parsed = _python_iso(text, zone)
    bad = parsed.is_null() & text.is_not_null()
    if bad.any():
        position = int(bad.arg_true()[0])
        raise InvalidInput(
            "not a timestamp: {value!r} (expected ISO 8601{hint})",
            location=Location(
                file=file or None,
                line=lines[position] if lines is not None else first_line + position,
                column=column or None,
            ),
            value=text[position],
            hint=f" or {fmt}" if fmt else "",
        )
    return parsed


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?$")


def _fixed_width_iso(text: pl.Series, zone: str) -> pl.Series | None:
    """Exports write every timestamp in one fixed-width ISO 8601 layout; then the digits are at
    fixed byte positions, and numpy turns the column's bytes (one ``n × width`` matrix) into
    microseconds directly — ~8× less CPU than Polars' general parser, which runs chrono per value.
    Every byte is checked (digits where the first value has digits, its separators elsewhere, a
    sign in the offset) and every field range (month, day of that month, hour, minute, second);
    returns None on any doubt, and the general parser takes over."""
    sample = text.drop_nulls()
    if sample.is_empty() or sample.str.len_bytes().n_unique() != 1:
        return None
    first = str(sample[0])
    match = _ISO.match(first)
    if match is None or not first.isascii():
        return None
    fraction, offset = match.group(1) or "", match.group(2) or ""
    width = len(first)
    try:
        raw = np.frombuffer(sample.str.join("").item().encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    table = raw.reshape(-1, width)
    template = np.frombuffer(first.encode("ascii"), dtype=np.uint8)
    digit = np.array([c.isdigit() for c in first])
    if offset and offset != "Z":
        digit[width - 6] = False
        signs = table[:, width - 6]
        if not bool(np.all((signs == ord("+")) | (signs == ord("-")))):
            return None
        literal = digit.copy()
        literal[width - 6] = True  # checked above
    else:
        literal = digit
    micros = np.empty(table.shape[0], dtype=np.int64)
    for lo in range(0, table.shape[0], _BATCH):  # batches keep the temporaries in cache
        rows = table[lo : lo + _BATCH]
        if bool(np.any(rows[:, digit] - np.uint8(ord("0")) > 9)) or bool(
            np.any(rows[:, ~literal] != template[~literal])
        ):
            return None
        done = _micros(rows, fraction, offset, width)
        if done is None:
            return None
        micros[lo : lo + _BATCH] = done
    parsed = pl.Series(text.name, micros, dtype=pl.Int64).cast(pl.Datetime("us"))
    if text.null_count():
        present = text.is_not_null()
        full = np.zeros(text.len(), dtype=np.int64)
        full[present.to_numpy()] = micros
        parsed = pl.select(pl.when(present).then(pl.Series(full).cast(pl.Datetime("us")))).to_series()
    if offset:
        return utc_instants(parsed).rename(text.name)
    return _to_utc(parsed, zone).rename(text.name)


def _number(table: npt.NDArray[np.uint8], start: int, length: int) -> npt.NDArray[np.int64]:
    out = table[:, start].astype(np.int64) - ord("0")
    for i in range(start + 1, start + length):
        out *= 10
        out += table[:, i]
        out -= ord("0")
    return out


_BATCH = 1 << 16
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _micros(
    table: npt.NDArray[np.uint8], fraction: str, offset: str, width: int
) -> npt.NDArray[np.int64] | None:
    """µs since the epoch (UTC when ``offset`` is given, else wall time) of validated ISO bytes;
    None if a field is out of range (e.g. 2024-02-30), as chrono would reject it."""
    year, month, day = _number(table, 0, 4), _number(table, 5, 2), _number(table, 8, 2)
    hour, minute, second = _number(table, 11, 2), _number(table, 14, 2), _number(table, 17, 2)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    if not bool(
        np.all((year >= 1) & (month >= 1) & (month <= 12) & (hour <= 23) & (minute <= 59) & (second <= 59))
    ):
        return None
    last_day = _DAYS_IN_MONTH[month] + ((month == 2) & leap)
    if not bool(np.all((day >= 1) & (day <= last_day))):
        return None
    # days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    micros: npt.NDArray[np.int64] = (days * 86_400 + hour * 3_600 + minute * 60 + second) * 1_000_000
    if len(fraction) > 1:
        digits = len(fraction) - 1
        micros += _number(table, 20, digits) * 10 ** (6 - digits)
    if offset and offset != "Z":
        sign = np.where(table[:, width - 6] == ord("-"), -1, 1)
        minutes = sign * (_number(table, width - 5, 2) * 60 + _number(table, width - 2, 2))
        micros -= minutes * 60_000_000
    return micros


def _try(text: pl.Series, fmt: str, zone: str) -> pl.Series | None:
    try:
        if "%z" in fmt or "%:z" in fmt or fmt.endswith("Z"):
            out = text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
            return out.cast(TIME_TYPE)
        naive = text.str.to_datetime(fmt, strict=False, time_unit="us")
        return _to_utc(naive, zone)
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError):
        return None


def utc_instants(values: pl.Series) -> pl.Series:
    """Datetimes (naive ones taken as UTC) as ``Datetime(us, UTC)``. The values are instants since
    the epoch in UTC whatever the zone, so this is a cast of the numbers: ``convert_time_zone`` and
    ``replace_time_zone`` would give the same values but load Polars' time-zone database (~7 MiB
    more resident) on first use."""
    return values.dt.cast_time_unit("us").to_physical().cast(TIME_TYPE)


def _to_utc(values: pl.Series, zone: str) -> pl.Series:
    dtype = values.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return utc_instants(values)
    if zone == "UTC":
        return utc_instants(values)
    localised = values.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    return localised.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def _python_iso(text: pl.Series, zone: str) -> pl.Series:
    """The slow, exact fallback: ``datetime.fromisoformat`` value by value (Python 3.11 reads
    every ISO 8601 form, including offsets like ``+0800`` and a trailing ``Z``)."""
    local = ZoneInfo(zone)
    out: list[datetime | None] = []
    for value in text.to_list():
        if value is None:
            out.append(None)
            continue
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            out.append(None)
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=local)
        out.append(moment.astimezone(UTC))
    return pl.Series(text.name, out, dtype=TIME_TYPE)
