"""Control-flow discovery: the directly-follows graph, its performance, variants and case durations.

Every number equals pm4py's on the same log (``tests/mining/test_pm4py_parity.py``):

- the DFG counts each pair of consecutive events of a case, in (timestamp, source position) order,
  over *all* events — pm4py's ``discover_dfg`` does not filter lifecycle transitions either;
- transition durations are ``timestamp(next) - timestamp(this)`` in seconds (microsecond
  resolution); ``stdev_s`` is the *sample* standard deviation (pandas ``std``, ddof = 1), null for an
  edge seen once where pm4py gives NaN;
- variants are activity sequences; case duration is last minus first timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from isthmus.mining._log import EventLog
from isthmus.mining._schema import ACTIVITY, CASE, TIMESTAMP, seconds

_NEXT_CASE = "__next_case"
_NEXT = "__next_activity"
_SECONDS = "__seconds"


def _pairs(log: EventLog, *, with_time: bool) -> pl.LazyFrame:
    columns = [CASE, ACTIVITY, TIMESTAMP] if with_time else [CASE, ACTIVITY]
    lf = (
        log.lazy()
        .select(columns)
        .with_columns(pl.col(CASE).shift(-1).alias(_NEXT_CASE), pl.col(ACTIVITY).shift(-1).alias(_NEXT))
    )
    if with_time:
        lf = lf.with_columns(seconds(pl.col(TIMESTAMP).shift(-1) - pl.col(TIMESTAMP)).alias(_SECONDS))
    return lf.filter(pl.col(CASE) == pl.col(_NEXT_CASE))


@dataclass(frozen=True, slots=True)
class Dfg:
    edges: dict[tuple[str, str], int]
    start: dict[str, int]
    end: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "edges": [{"source": s, "target": t, "count": n} for (s, t), n in self.edges.items()],
            "start": self.start,
            "end": self.end,
        }

    @property
    def activities(self) -> dict[str, int]:
        """Occurrences per activity (events), derived: inflow + start activities."""
        counts: dict[str, int] = dict(self.start)
        for (_s, target), n in self.edges.items():
            counts[target] = counts.get(target, 0) + n
        return counts


def _endpoints(log: EventLog) -> tuple[dict[str, int], dict[str, int]]:
    ends = (
        log.lazy()
        .group_by(CASE)
        .agg(pl.col(ACTIVITY).first().alias("first"), pl.col(ACTIVITY).last().alias("last"))
        .collect()
    )
    start = ends.group_by("first").len().sort(["len", "first"], descending=[True, False])
    end = ends.group_by("last").len().sort(["len", "last"], descending=[True, False])
    return dict(zip(start["first"].to_list(), start["len"].to_list(), strict=True)), dict(
        zip(end["last"].to_list(), end["len"].to_list(), strict=True)
    )


def dfg(log: EventLog) -> Dfg:
    """Directly-follows frequencies and start/end activities (= ``pm4py.discover_dfg``)."""
    counts = (
        _pairs(log, with_time=False)
        .group_by(ACTIVITY, _NEXT)
        .len()
        .sort(["len", ACTIVITY, _NEXT], descending=[True, False, False])
        .collect()
    )
    edges = {(s, t): n for s, t, n in counts.iter_rows()}
    start, end = _endpoints(log)
    return Dfg(edges, start, end)


@dataclass(frozen=True, slots=True)
class EdgePerformance:
    count: int
    mean_s: float
    median_s: float
    min_s: float
    max_s: float
    sum_s: float
    stdev_s: float | None


@dataclass(frozen=True, slots=True)
class PerformanceDfg:
    edges: dict[tuple[str, str], EdgePerformance]
    start: dict[str, int]
    end: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "edges": [
                {
                    "source": s,
                    "target": t,
                    "count": p.count,
                    "mean_s": p.mean_s,
                    "median_s": p.median_s,
                    "min_s": p.min_s,
                    "max_s": p.max_s,
                    "sum_s": p.sum_s,
                    "stdev_s": p.stdev_s,
                }
                for (s, t), p in self.edges.items()
            ],
            "start": self.start,
            "end": self.end,
        }


def performance_dfg(log: EventLog) -> PerformanceDfg:
    """Transition durations per edge (= ``pm4py.discover_performance_dfg``, all aggregations)."""
    d = pl.col(_SECONDS)
    stats = (
        _pairs(log, with_time=True)
        .group_by(ACTIVITY, _NEXT)
        .agg(
            pl.len().alias("n"),
            d.mean().alias("mean"),
            d.median().alias("median"),
            d.min().alias("min"),
            d.max().alias("max"),
            d.sum().alias("sum"),
            d.std(ddof=1).alias("std"),
        )
        .sort(["n", ACTIVITY, _NEXT], descending=[True, False, False])
        .collect()
    )
    edges = {
        (r[ACTIVITY], r[_NEXT]): EdgePerformance(
            r["n"], r["mean"], r["median"], r["min"], r["max"], r["sum"], r["std"] if r["n"] > 1 else None
        )
        for r in stats.iter_rows(named=True)
    }
    start, end = _endpoints(log)
    return PerformanceDfg(edges, start, end)


@dataclass(frozen=True, slots=True)
class Variant:
    activities: tuple[str, ...]
    count: int
    cases: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"activities": list(self.activities), "count": self.count}


def variant_table(log: EventLog) -> pl.DataFrame:
    """One row per case: ``case_id`` and its ``variant`` (list of activities)."""
    return log.lazy().group_by(CASE, maintain_order=True).agg(pl.col(ACTIVITY).alias("variant")).collect()


def variants(log: EventLog, *, with_cases: bool = False) -> list[Variant]:
    """Variants by count, descending, ties by activity sequence (= ``pm4py.get_variants`` counts)."""
    table = variant_table(log).lazy().group_by("variant").agg(pl.len().alias("n"), pl.col(CASE))
    rows = table.sort(["n", "variant"], descending=[True, False]).collect()
    return [
        Variant(tuple(v), int(n), tuple(c) if with_cases else ())
        for v, n, c in rows.select("variant", "n", CASE).iter_rows()
    ]


def case_durations(log: EventLog) -> pl.DataFrame:
    """``case_id``, ``start``, ``end``, ``duration_s`` (last minus first timestamp), by case id."""
    return (
        log.lazy()
        .group_by(CASE)
        .agg(pl.col(TIMESTAMP).min().alias("start"), pl.col(TIMESTAMP).max().alias("end"))
        .with_columns(seconds(pl.col("end") - pl.col("start")).alias("duration_s"))
        .sort(CASE)
        .collect()
    )


def throughput(log: EventLog, *, bins: int = 20) -> dict[str, Any]:
    """The distribution of case durations: quantiles, mean, and an equal-width histogram."""
    durations = case_durations(log)["duration_s"]
    if durations.is_empty():
        return {"cases": 0, "mean_s": None, "quantiles": {}, "histogram": []}
    low, high = float(durations.min()), float(durations.max())  # type: ignore[arg-type]
    width = (high - low) / bins or 1.0
    index = ((durations - low) / width).floor().clip(0, bins - 1).cast(pl.Int64)
    counts = index.value_counts().sort(index.name)
    per_bin = dict(zip(counts[index.name].to_list(), counts["count"].to_list(), strict=True))
    return {
        "cases": durations.len(),
        "mean_s": durations.mean(),
        "quantiles": {f"p{q}": durations.quantile(q / 100, "linear") for q in (10, 25, 50, 75, 90, 95, 99)},
        "histogram": [
            {"from_s": low + i * width, "to_s": low + (i + 1) * width, "cases": per_bin.get(i, 0)}
            for i in range(bins)
        ],
    }
