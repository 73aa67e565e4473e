"""Survivorship: one golden record per cluster, field by field from the best-ranked record that has it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from isthmus.errors import InvalidInput
from isthmus.quality._dedupe import Cluster


class Strategy(StrEnum):
    MOST_COMPLETE = "most_complete"  # the record with the most non-empty fields first
    MOST_RECENT = "most_recent"  # the latest value of ``order_by`` first
    SOURCE_PRIORITY = "source_priority"  # ``source`` values in the order of ``priority``


@dataclass(frozen=True, slots=True)
class Survivorship:
    """How to rank a cluster's records; ties go to the lower row number (the file order)."""

    strategy: Strategy = Strategy.MOST_COMPLETE
    order_by: str | None = None
    source: str | None = None
    priority: tuple[str, ...] = ()


def _rank_key(frame: pl.DataFrame, rule: Survivorship) -> pl.Expr:
    if rule.strategy is Strategy.MOST_RECENT:
        if not rule.order_by or rule.order_by not in frame.columns:
            raise InvalidInput(
                "most_recent needs 'order_by', a column of the data", column=rule.order_by or ""
            )
        return pl.col(rule.order_by).cast(pl.String)  # ISO dates and times sort as text
    if rule.strategy is Strategy.SOURCE_PRIORITY:
        if not rule.source or rule.source not in frame.columns:
            raise InvalidInput(
                "source_priority needs 'source', a column of the data", column=rule.source or ""
            )
        order = {s: i for i, s in enumerate(rule.priority)}
        return (
            pl.col(rule.source)
            .cast(pl.String)
            .replace_strict(order, default=len(order), return_dtype=pl.Int64)
        )
    return pl.sum_horizontal(
        [(pl.col(c).is_not_null() & (pl.col(c).cast(pl.String) != "")).cast(pl.Int64) for c in frame.columns]
    )


def golden_records(
    frame: pl.DataFrame, clusters: Sequence[Cluster], rule: Survivorship | None = None
) -> pl.DataFrame:
    """One row per cluster: ``cluster`` (0-based), ``rows`` (its members) and the surviving values.

    >>> df = pl.DataFrame({"name": ["华通", "华通科技"], "phone": [None, "+8613800138000"]})
    >>> golden_records(df, [Cluster((0, 1), 0.9)]).row(0)
    (0, [0, 1], '华通科技', '+8613800138000')
    """
    rule = rule or Survivorship()
    members = pl.DataFrame(
        {
            "cluster": [i for i, c in enumerate(clusters) for _ in c.rows],
            "row": [r for c in clusters for r in c.rows],
        },
        schema={"cluster": pl.Int64, "row": pl.Int64},
    )
    ranked = frame.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), _rank_key(frame, rule).alias("_rank")
    ).join(members, on="row")
    # Most complete and most recent: higher first; source priority: lower index first.
    descending = rule.strategy is not Strategy.SOURCE_PRIORITY
    ranked = ranked.sort(["cluster", "_rank", "row"], descending=[False, descending, False], nulls_last=True)
    values = [pl.col(c).drop_nulls().first().alias(c) for c in frame.columns]
    return (
        ranked.group_by("cluster", maintain_order=True)
        .agg(pl.col("row").sort().alias("rows"), *values)
        .sort("cluster")
    )
