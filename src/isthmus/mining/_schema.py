"""The one event-log schema of Isthmus (DESIGN.md): the columns every importer produces.

``case_id, activity, timestamp (UTC), lifecycle, resource, system`` plus ``start_timestamp`` when
the source has one, plus free attributes. ``event_index`` is the position of the event in its
source file: pm4py keeps source order as the tiebreak of equal timestamps, so we store it and sort
on it instead of trusting any sort to be stable.
"""

from __future__ import annotations

import polars as pl

CASE = "case_id"
ACTIVITY = "activity"
TIMESTAMP = "timestamp"
START = "start_timestamp"
LIFECYCLE = "lifecycle"
RESOURCE = "resource"
SYSTEM = "system"
INDEX = "event_index"

CORE_COLUMNS = (CASE, ACTIVITY, TIMESTAMP, START, LIFECYCLE, RESOURCE, SYSTEM)
TIME_TYPE = pl.Datetime("us", "UTC")
# Source positions: 4 bytes an event (a log of 2³² events would not fit in memory anyway).
INDEX_TYPE = pl.UInt32
# Case ids, activities, resources and systems repeat: a log of a million events has a few thousand
# distinct values in each. As Categorical a value is a 4-byte code into one shared dictionary instead
# of a 16-byte string view (plus its text when longer than 12 bytes) — about 50 MiB less per million
# events. Comparisons with plain strings, ``is_in``, sorting (by the text) and ``to_list`` behave as
# for String; joins and concatenations with a String column need a cast first.
TEXT_TYPE = pl.Categorical()
CATEGORICAL_COLUMNS = (CASE, ACTIVITY, RESOURCE, SYSTEM)


def ordered(log: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """The log sorted by case, then timestamp, then source position (pm4py's stable sort)."""
    return log.lazy().sort(CASE, TIMESTAMP, INDEX)


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Give ``frame`` every core column with its canonical type, the event index last-resort
    numbering, and the core columns first."""
    columns = set(frame.columns)
    extra: list[pl.Expr] = []
    for name in (START, LIFECYCLE, RESOURCE, SYSTEM):
        if name not in columns:
            dtype = TIME_TYPE if name == START else pl.String if name == LIFECYCLE else TEXT_TYPE
            extra.append(pl.lit(None, dtype=dtype).alias(name))
    if INDEX not in columns:
        extra.append(pl.int_range(pl.len(), dtype=INDEX_TYPE).alias(INDEX))
    frame = frame.with_columns(extra) if extra else frame
    frame = frame.with_columns(
        *(_text(frame, name) for name in CATEGORICAL_COLUMNS),
        pl.col(TIMESTAMP).cast(TIME_TYPE),
        pl.col(START).cast(TIME_TYPE),
        pl.col(LIFECYCLE).cast(pl.String),
        pl.col(INDEX).cast(INDEX_TYPE),
    )
    rest = [c for c in frame.columns if c not in (*CORE_COLUMNS, INDEX)]
    return frame.select(*CORE_COLUMNS, INDEX, *rest)


def categorise(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with those of :data:`CATEGORICAL_COLUMNS` it has as :data:`TEXT_TYPE` (done per
    block of a large import, so the whole log never exists as text)."""
    present = [name for name in CATEGORICAL_COLUMNS if name in frame.columns]
    return frame.with_columns(_text(frame, name) for name in present) if present else frame


def _text(frame: pl.DataFrame, name: str) -> pl.Expr:
    """``name`` as :data:`TEXT_TYPE`; numbers and dates through their text, as a String column had."""
    dtype = frame.schema.get(name)
    column = pl.col(name)
    if dtype is None or dtype == TEXT_TYPE or dtype == pl.Null:  # a missing column: Polars says so
        return column.cast(TEXT_TYPE)
    if dtype != pl.String and not isinstance(dtype, pl.Enum | pl.Categorical):
        column = column.cast(pl.String)
    return column.cast(TEXT_TYPE)


_DAY_US = 86_400_000_000


def seconds(delta: pl.Expr) -> pl.Expr:
    """A duration in float seconds, computed as pm4py does (``86400·days + seconds + 1e-6·µs``,
    pandas' timedelta components), so sums and means come out bit-for-bit equal to pm4py's."""
    return seconds_of_us(delta.dt.total_microseconds())


def seconds_of_us(us: pl.Expr) -> pl.Expr:
    """:func:`seconds` of a column of microseconds (materialise it first: the formula uses it 4×)."""
    days = us.floordiv(_DAY_US)
    rest = us - days * _DAY_US
    whole = (days * 86_400 + rest.floordiv(1_000_000)).cast(pl.Float64)
    return whole + (rest % 1_000_000).cast(pl.Float64) * 1e-6
