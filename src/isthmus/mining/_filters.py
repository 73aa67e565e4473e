"""Filters that return a smaller log (still sorted): time window, attribute values, top-k
variants, case duration. Case-level filters keep or drop whole cases, as pm4py's do."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import polars as pl

from isthmus.errors import InvalidInput
from isthmus.mining._discovery import case_durations, top_variant_cases, variant_table
from isthmus.mining._log import EventLog
from isthmus.mining._schema import CASE, TIMESTAMP


class TimeMode(StrEnum):
    CONTAINED = "contained"  # cases that start and end inside the window
    INTERSECTING = "intersecting"  # cases with at least one event inside
    EVENTS = "events"  # only the events inside the window


def _keep_cases(log: EventLog, cases: pl.Series) -> EventLog:
    return EventLog.presorted(log.frame.filter(pl.col(CASE).is_in(cases.implode())))


def filter_time(
    log: EventLog, start: datetime, end: datetime, mode: TimeMode = TimeMode.CONTAINED
) -> EventLog:
    inside = pl.col(TIMESTAMP).is_between(start, end)
    if mode is TimeMode.EVENTS:
        return EventLog.presorted(log.frame.filter(inside))
    if mode is TimeMode.INTERSECTING:
        return _keep_cases(log, log.frame.filter(inside)[CASE].unique())
    spans = case_durations(log).filter(pl.col("start") >= start, pl.col("end") <= end)
    return _keep_cases(log, spans[CASE])


def filter_attribute(log: EventLog, column: str, values: list[str], *, keep: bool = True) -> EventLog:
    """Cases with (``keep``) or without an event whose ``column`` is one of ``values``."""
    if column not in log.frame.columns:
        raise InvalidInput("no attribute {name!r} in the log", name=column)
    hit = log.frame.filter(pl.col(column).cast(pl.String).is_in(values))[CASE].unique()
    if keep:
        return _keep_cases(log, hit)
    return EventLog.presorted(log.frame.filter(~pl.col(CASE).is_in(hit.implode())))


def filter_top_variants(log: EventLog, k: int) -> EventLog:
    keep = top_variant_cases(log, k)
    if keep is None:
        return _top_variants_reference(log, k)
    return EventLog.presorted(log.frame.filter(keep))


def _top_variants_reference(log: EventLog, k: int) -> EventLog:
    table = variant_table(log)
    ranked = table.group_by("variant").len().sort(["len", "variant"], descending=[True, False]).head(k)
    cases = table.join(ranked.select("variant"), on="variant", how="semi")[CASE]
    return _keep_cases(log, cases)


def filter_duration(log: EventLog, min_s: float | None = None, max_s: float | None = None) -> EventLog:
    spans = case_durations(log)
    if min_s is not None:
        spans = spans.filter(pl.col("duration_s") >= min_s)
    if max_s is not None:
        spans = spans.filter(pl.col("duration_s") <= max_s)
    return _keep_cases(log, spans[CASE])
