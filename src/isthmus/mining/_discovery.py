"""Control-flow discovery: the directly-follows graph, its performance, variants and case durations.

Every number equals pm4py's on the same log (``tests/mining/test_pm4py_parity.py``):

- the DFG counts each pair of consecutive events of a case, in (timestamp, source position) order,
  over *all* events — pm4py's ``discover_dfg`` does not filter lifecycle transitions either;
- transition durations are ``timestamp(next) - timestamp(this)`` in seconds (microsecond
  resolution); ``stdev_s`` is the *sample* standard deviation (pandas ``std``, ddof = 1), null for an
  edge seen once where pm4py gives NaN;
- variants are activity sequences; case duration is last minus first timestamp.

Each analysis runs on the log's integer view (``_encoded.py``: activity codes, case offsets, µs
timestamps, cached on the log) with numpy; the plain-Polars versions (``_*_reference``) are the
definitions the fast paths are tested against, and run for frames with nulls in a core column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from isthmus.mining._encoded import Encoded, IntArray, VariantIds, encoded, variant_ids
from isthmus.mining._encoded import seconds as seconds_np
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


_CHUNK = 1 << 18


def _tally(
    keys: npt.NDArray[np.unsignedinteger[Any] | np.signedinteger[Any]], size: int
) -> tuple[IntArray, IntArray]:
    """The distinct values of ``keys`` (ascending) and how often each occurs."""
    if size <= 1 << 22:
        if size > 1 << 16 or keys.size <= _CHUNK:
            counts = np.bincount(keys, minlength=size)
        else:  # bincount converts its input to int64: a chunk at a time, not the whole array
            counts = np.zeros(size, dtype=np.int64)
            for lo in range(0, keys.size, _CHUNK):
                counts += np.bincount(keys[lo : lo + _CHUNK], minlength=size)
        present = np.flatnonzero(counts)
        return present, counts[present]
    present, counts = np.unique(keys, return_counts=True)
    return present, counts


def _named_counts(enc: Encoded, codes: IntArray) -> dict[str, int]:
    """Occurrences per activity, by count descending, then name."""
    present, counts = _tally(codes, len(enc.names))
    order = np.lexsort((present, -counts))
    return {enc.names[present[i]]: int(counts[i]) for i in order}


def _endpoints_fast(enc: Encoded) -> tuple[dict[str, int], dict[str, int]]:
    first = enc.codes[enc.starts[:-1]].astype(np.int64)
    last = enc.codes[enc.starts[1:] - 1].astype(np.int64)
    return _named_counts(enc, first), _named_counts(enc, last)


def _edge_counts(enc: Encoded) -> tuple[IntArray, IntArray]:
    """The edges present (ascending keys) and their frequencies; cached, the DFG and the
    performance DFG both need them."""
    if "edge_counts" not in enc.derived:
        enc.derived["edge_counts"] = _tally(enc.pair_keys(), len(enc.names) ** 2)
    found: tuple[IntArray, IntArray] = enc.derived["edge_counts"]
    return found


def _edge_order(keys: IntArray, counts: IntArray, width: int) -> tuple[IntArray, IntArray, IntArray]:
    """Sources, targets and the order (count descending, then source and target name) of edges."""
    sources, targets = keys // width, keys % width
    return sources, targets, np.lexsort((targets, sources, -counts))


def dfg(log: EventLog) -> Dfg:
    """Directly-follows frequencies and start/end activities (= ``pm4py.discover_dfg``).

    Each pair of consecutive events of a case is one key ``source · K + target`` (K activities);
    ``bincount`` over the keys gives every edge's frequency in one pass."""
    enc = encoded(log)
    if enc is None:
        return _dfg_reference(log)
    width = len(enc.names)
    present, counts = _edge_counts(enc)
    sources, targets, order = _edge_order(present, counts, width)
    names = enc.names
    edges = {(names[sources[i]], names[targets[i]]): int(counts[i]) for i in order}
    start, end = _endpoints_fast(enc)
    return Dfg(edges, start, end)


def _dfg_reference(log: EventLog) -> Dfg:
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
    """Transition durations per edge (= ``pm4py.discover_performance_dfg``, all aggregations).

    Durations are integer µs. One sort of ``edge key << bits | duration`` (a single int64 column;
    ``lexsort`` when that could overflow) groups the transitions by edge with each group's durations
    ascending, so min, max and median are positions in the group; the sum is exact in integer µs;
    the sample standard deviation is two-pass (deviations from the group mean). Values become
    seconds with pm4py's formula (``_encoded.seconds``)."""
    enc = encoded(log)
    if enc is None:
        return _performance_reference(log)
    keys = enc.pair_keys()
    edges: dict[tuple[str, str], EdgePerformance] = {}
    if keys.size:
        present, counts = _edge_counts(enc)
        durations = _sorted_by_edge(keys, present, counts, enc.pair_durations())
        edges = _edge_statistics(enc.names, present, counts, durations)
    start, end = _endpoints_fast(enc)
    return PerformanceDfg(edges, start, end)


def _sorted_by_edge(
    keys: npt.NDArray[np.unsignedinteger[Any] | np.signedinteger[Any]],
    present: IntArray,
    counts: IntArray,
    durations: IntArray,
) -> IntArray:
    """All durations sorted by (edge, duration): the edges in ascending key order (``present``,
    each with ``counts`` transitions), each edge's durations ascending. Where ``key << bits |
    duration`` fits in an int64, that is one in-place sort of ``durations`` itself (the keys
    or-ed in block by block: shifts and masks, no per-element division, no second array); else
    ``lexsort``."""
    lowest = int(durations.min())
    bits = (int(durations.max()) - lowest).bit_length()
    if int(present[-1]) << bits >= 1 << 62:
        ordered: IntArray = np.take(durations, np.lexsort((durations, keys)))
        return ordered
    durations -= lowest
    shift = np.int64(bits)
    for lo in range(0, keys.size, _CHUNK):
        block = durations[lo : lo + _CHUNK]
        block |= keys[lo : lo + _CHUNK].astype(np.int64) << shift
    durations.sort()
    durations &= (1 << bits) - 1
    durations += lowest
    return durations


def _edge_statistics(
    names: tuple[str, ...], edges: IntArray, counts: IntArray, durations: IntArray
) -> dict[tuple[str, str], EdgePerformance]:
    width = len(names)
    lo = np.concatenate(([0], np.cumsum(counts)[:-1]))
    total_us = np.add.reduceat(durations, lo)
    total = seconds_np(total_us)
    mean = total / counts
    median = (seconds_np(durations[lo + (counts - 1) // 2]) + seconds_np(durations[lo + counts // 2])) / 2
    low, high = seconds_np(durations[lo]), seconds_np(durations[lo + counts - 1])
    squares = _squared_deviations(durations, lo, counts, total_us / counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        stdev = np.sqrt(squares / (counts - 1)) * 1e-6
    sources, targets, order = _edge_order(edges, counts, width)
    return {
        (names[sources[i]], names[targets[i]]): EdgePerformance(
            int(counts[i]),
            float(mean[i]),
            float(median[i]),
            float(low[i]),
            float(high[i]),
            float(total[i]),
            float(stdev[i]) if counts[i] > 1 else None,
        )
        for i in order
    }


def _squared_deviations(durations: IntArray, lo: IntArray, counts: IntArray, means: Any) -> Any:
    """Σ (x − mean)² per group: two-pass, in µs."""
    if len(lo) <= 1024:  # few groups: one group's float copy at a time, no array of repeated means
        out = np.empty(len(lo), dtype=np.float64)
        first = np.zeros(1, dtype=np.intp)
        for g, (start, n, mean) in enumerate(zip(lo.tolist(), counts.tolist(), means.tolist(), strict=True)):
            part = durations[start : start + n].astype(np.float64)
            part -= mean
            part *= part
            out[g] = np.add.reduceat(part, first)[0]  # the same summation as over the whole array
        return out
    deviation = durations.astype(np.float64)
    deviation -= np.repeat(means, counts)
    deviation *= deviation
    return np.add.reduceat(deviation, lo)


def _performance_reference(log: EventLog) -> PerformanceDfg:
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
    """Variants by count, descending, ties by activity sequence (= ``pm4py.get_variants`` counts).

    Cases are numbered by exact variant on the integer view (``_encoded.variant_ids``); only one
    case per distinct variant is decoded back to activity names."""
    enc = encoded(log)
    if enc is None:
        return _variants_reference(log, with_cases=with_cases)
    ids = variant_ids(log, enc)
    sequences, order = _ranked(enc, ids)
    counts = ids.counts.tolist()
    members: list[tuple[str, ...]] = [()] * len(counts)
    if with_cases and counts:
        case_ids = enc.case_ids(log.frame).cast(pl.String).to_list()
        by_variant = np.argsort(ids.of_case, kind="stable")
        bounds = np.cumsum(ids.counts)[:-1]
        for v, group in enumerate(np.split(by_variant, bounds)):
            members[v] = tuple(case_ids[c] for c in group.tolist())
    names = enc.names
    return [Variant(tuple(names[c] for c in sequences[v]), counts[v], members[v]) for v in order]


def _ranked(enc: Encoded, ids: VariantIds) -> tuple[list[list[int]], list[int]]:
    """Each variant's code sequence, and the variants by count descending, then sequence (codes
    rank names, so this is the order of the names)."""
    sequences = [enc.codes[enc.starts[c] : enc.starts[c + 1]].tolist() for c in ids.first_case.tolist()]
    counts = ids.counts.tolist()
    return sequences, sorted(range(len(counts)), key=lambda v: (-counts[v], sequences[v]))


def top_variant_cases(log: EventLog, k: int) -> pl.Series | None:
    """A mask over the events of ``log``: those of cases whose variant is among the ``k`` most
    frequent (ties by sequence, as :func:`variants`); None when the log has no integer view."""
    enc = encoded(log)
    if enc is None:
        return None
    ids = variant_ids(log, enc)
    _sequences, order = _ranked(enc, ids)
    keep = np.zeros(len(ids.counts), dtype=bool)
    keep[order[: max(k, 0)]] = True
    return pl.Series(np.repeat(keep[ids.of_case], np.diff(enc.starts)))


def _variants_reference(log: EventLog, *, with_cases: bool = False) -> list[Variant]:
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
    enc = encoded(log)
    if enc is None:
        return _case_durations_reference(log)
    start, end = enc.times.at(enc.starts[:-1]), enc.times.at(enc.starts[1:] - 1)
    moment = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        {
            CASE: enc.case_ids(log.frame),
            "start": pl.Series(start).cast(moment),
            "end": pl.Series(end).cast(moment),
            "duration_s": seconds_np(end - start),
        }
    )


def _case_durations_reference(log: EventLog) -> pl.DataFrame:
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
