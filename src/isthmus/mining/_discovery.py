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


def _firsts(log: EventLog) -> tuple[pl.Expr, pl.Expr]:
    """Masks of each case's first and last event (the log is ordered, so no group-by is needed)."""
    case = pl.col(CASE)
    return (case != case.shift(1)).fill_null(True), (case != case.shift(-1)).fill_null(True)


def _counts(values: pl.Series) -> dict[str, int]:
    table = values.value_counts(name="n").sort(["n", values.name], descending=[True, False])
    return dict(zip(table[values.name].to_list(), table["n"].to_list(), strict=True))


def _endpoints(log: EventLog) -> tuple[dict[str, int], dict[str, int]]:
    first, last = _firsts(log)
    ends = log.frame.select(
        pl.col(ACTIVITY).filter(first).alias("first"), pl.col(ACTIVITY).filter(last).alias("last")
    )
    return _counts(ends["first"]), _counts(ends["last"])


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
    """One row per case, in log order: ``case_id`` and its ``variant`` (list of activities)."""
    first, _last = _firsts(log)
    return (
        log.lazy()
        .select(CASE, ACTIVITY, first.cum_sum().alias("__case"))
        .group_by("__case", maintain_order=True)
        .agg(pl.col(CASE).first(), pl.col(ACTIVITY).alias("variant"))
        .drop("__case")
        .collect()
    )


def variants(log: EventLog, *, with_cases: bool = False) -> list[Variant]:
    """Variants by count, descending, ties by activity sequence (= ``pm4py.get_variants`` counts)."""
    first, _last = _firsts(log)
    per_case = (
        log.lazy()
        .select(CASE, ACTIVITY, first.cum_sum().alias("__case"))
        .group_by("__case")
        .agg(pl.col(CASE).first(), pl.col(ACTIVITY).alias("variant"))
    )
    aggregations = [pl.len().alias("n"), pl.col(CASE)] if with_cases else [pl.len().alias("n")]
    rows = (
        per_case.group_by("variant")
        .agg(aggregations)
        .sort(["n", "variant"], descending=[True, False])
        .collect()
    )
    if with_cases:
        return [
            Variant(tuple(v), int(n), tuple(c)) for v, n, c in rows.select("variant", "n", CASE).iter_rows()
        ]
    return [Variant(tuple(v), int(n)) for v, n in rows.select("variant", "n").iter_rows()]


def case_durations(log: EventLog) -> pl.DataFrame:
    """``case_id``, ``start``, ``end``, ``duration_s`` (last minus first timestamp), in log order."""
    first, last = _firsts(log)
    frame = log.frame
    return pl.DataFrame(
        {
            CASE: frame[CASE].filter(frame.select(first).to_series()),
            "start": frame[TIMESTAMP].filter(frame.select(first).to_series()),
            "end": frame[TIMESTAMP].filter(frame.select(last).to_series()),
        }
    ).with_columns(seconds(pl.col("end") - pl.col("start")).alias("duration_s"))


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
