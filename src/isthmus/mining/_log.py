"""An event log in memory: a Polars frame in the Isthmus schema, kept sorted by case, timestamp and
source position, so every analysis reads it in pm4py's order without sorting again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from isthmus.mining._encoded import encoded, variant_ids
from isthmus.mining._schema import ACTIVITY, CASE, INDEX, TIMESTAMP, normalise


@dataclass(frozen=True, slots=True)
class EventLog:
    """Build with :meth:`of` (sorts) or :meth:`presorted` (a frame already in order, e.g. read back
    from the Parquet file an import wrote)."""

    frame: pl.DataFrame
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def cache(self) -> dict[str, Any]:
        """Derived data the analyses share (the integer encoding, variant ids): computed once per
        log, as the frame never changes — every filter returns a new log."""
        return self._cache

    @classmethod
    def of(cls, frame: pl.DataFrame) -> EventLog:
        frame = normalise(frame)
        return cls(frame if _in_order(frame) else frame.sort(CASE, TIMESTAMP, INDEX, maintain_order=True))

    @classmethod
    def presorted(cls, frame: pl.DataFrame) -> EventLog:
        return cls(frame)

    def lazy(self) -> pl.LazyFrame:
        return self.frame.lazy()

    def __len__(self) -> int:
        return self.frame.height


def _in_order(frame: pl.DataFrame) -> bool:
    """Whether rows already run by case, timestamp, source position (exports usually do), checked
    without a sort and without shifted copies of the columns: the case column is sorted (one
    comparison pass), and within each run of equal cases (``rle_id``) timestamps and then source
    positions ascend — numpy on each chunk (zero-copy), so no column is copied whole."""
    if frame.height < 2:
        return True
    case, time, index = frame[CASE], frame[TIMESTAMP].to_physical(), frame[INDEX]
    if case.null_count() or time.null_count() or index.null_count() or not case.is_sorted():
        return False
    chunks = [column.get_chunks() for column in (case, time, index)]
    if len({tuple(c.len() for c in pieces) for pieces in chunks}) != 1:
        chunks = [[column.rechunk()] for column in (case, time, index)]
    previous: tuple[object, int, int] | None = None
    for cases, times, positions in zip(*chunks, strict=True):
        if cases.is_empty():
            continue
        runs = cases.rle_id().to_numpy()
        t, i = times.to_numpy(), positions.to_numpy()
        same = runs[1:] == runs[:-1]
        if not bool(np.all(~same | (t[1:] > t[:-1]) | ((t[1:] == t[:-1]) & (i[1:] > i[:-1])))):
            return False
        if previous is not None and previous[0] == cases[0] and (int(t[0]), int(i[0])) <= previous[1:]:
            return False
        previous = (cases[-1], int(t[-1]), int(i[-1]))
    return True


@dataclass(frozen=True, slots=True)
class LogStatistics:
    """What the registry stores next to a log (and the log page shows)."""

    events: int
    cases: int
    activities: int
    variants: int
    first_event: datetime | None
    last_event: datetime | None
    columns: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "cases": self.cases,
            "activities": self.activities,
            "variants": self.variants,
            "first_event": self.first_event.isoformat() if self.first_event else None,
            "last_event": self.last_event.isoformat() if self.last_event else None,
            "columns": list(self.columns),
        }


def statistics(log: EventLog) -> LogStatistics:
    frame = log.frame
    summary = frame.select(
        pl.len().alias("events"),
        pl.col(CASE).n_unique().alias("cases"),
        pl.col(ACTIVITY).n_unique().alias("activities"),
        pl.col(TIMESTAMP).min().alias("first"),
        pl.col(TIMESTAMP).max().alias("last"),
    ).row(0, named=True)
    variants = _variant_count(log)
    return LogStatistics(
        events=int(summary["events"]),
        cases=int(summary["cases"]),
        activities=int(summary["activities"]),
        variants=int(variants),
        first_event=summary["first"],
        last_event=summary["last"],
        columns=tuple(frame.columns),
    )


def _variant_count(log: EventLog) -> int:
    enc = encoded(log)
    if enc is not None:
        return len(variant_ids(log, enc).counts)
    if not log.frame.height:
        return 0
    per_case = log.lazy().group_by(CASE, maintain_order=True).agg(pl.col(ACTIVITY))
    return int(per_case.select(pl.col(ACTIVITY).n_unique()).collect().item())
