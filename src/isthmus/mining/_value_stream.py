"""The value-stream view of a log: working versus waiting, and where the waste is.

An *activity instance* is one execution of an activity in a case, with a start and an end:

- with a ``start_timestamp`` column, each event is one instance (start → timestamp);
- else with ``lifecycle`` start/complete events, the n-th ``start`` of an activity in a case pairs
  with its n-th ``complete`` (first in, first out); a ``complete`` without a start is an instant;
- other lifecycle transitions (schedule, suspend …) are not instances.

*Service time* is end − start. *Waiting time* before an instance is its start minus the latest end
of the instances before it in the case (0 for the first one, and never negative: overlapping
instances ran in parallel). A case's *waiting share* is its total waiting over its duration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import polars as pl

from isthmus.errors import InvalidInput
from isthmus.mining._log import EventLog
from isthmus.mining._schema import (
    ACTIVITY,
    CASE,
    INDEX,
    LIFECYCLE,
    RESOURCE,
    START,
    SYSTEM,
    TIMESTAMP,
    seconds,
)

_LIFE = pl.col(LIFECYCLE).str.to_lowercase()


def instances(log: EventLog) -> pl.DataFrame:
    """Activity instances: ``case_id, activity, start, end, resource, system, service_s, waiting_s``."""
    lf = log.lazy()
    has_start = log.frame[START].null_count() < log.frame.height
    lifecycles = set(log.frame[LIFECYCLE].drop_nulls().str.to_lowercase().unique().to_list())
    if has_start:
        inst = lf.select(
            CASE,
            ACTIVITY,
            pl.col(START).fill_null(pl.col(TIMESTAMP)).alias("start"),
            pl.col(TIMESTAMP).alias("end"),
            RESOURCE,
            SYSTEM,
            INDEX,
        )
    elif "start" in lifecycles:
        inst = _paired(lf)
    else:
        keep = lf.filter(pl.col(LIFECYCLE).is_null() | (_LIFE == "complete")) if lifecycles else lf
        inst = keep.select(
            CASE,
            ACTIVITY,
            pl.col(TIMESTAMP).alias("start"),
            pl.col(TIMESTAMP).alias("end"),
            RESOURCE,
            SYSTEM,
            INDEX,
        )
    inst = inst.sort(CASE, "start", "end", INDEX)
    previous_end = pl.col("end").cum_max().shift(1).over(CASE)
    return (
        inst.with_columns(
            seconds(pl.col("end") - pl.col("start")).alias("service_s"),
            pl.max_horizontal(pl.lit(0.0), seconds(pl.col("start") - previous_end).fill_null(0.0)).alias(
                "waiting_s"
            ),
        )
        .drop(INDEX)
        .collect()
    )


def _paired(lf: pl.LazyFrame) -> pl.LazyFrame:
    rank = pl.int_range(pl.len()).over(CASE, ACTIVITY).alias("n")
    starts = (
        lf.filter(_LIFE == "start")
        .with_columns(rank)
        .select(CASE, ACTIVITY, "n", pl.col(TIMESTAMP).alias("start"))
    )
    completes = lf.filter(_LIFE == "complete").with_columns(rank)
    joined = completes.join(starts, on=[CASE, ACTIVITY, "n"], how="left")
    return joined.select(
        CASE,
        ACTIVITY,
        pl.col("start").fill_null(pl.col(TIMESTAMP)),
        pl.col(TIMESTAMP).alias("end"),
        RESOURCE,
        SYSTEM,
        INDEX,
    )


def waiting(log: EventLog) -> dict[str, Any]:
    """Service and waiting time per activity, and the waiting share of each case."""
    inst = instances(log)
    per_activity = (
        inst.group_by(ACTIVITY)
        .agg(
            pl.len().alias("instances"),
            pl.col("service_s").sum().alias("service_total_s"),
            pl.col("service_s").mean().alias("service_mean_s"),
            pl.col("service_s").median().alias("service_median_s"),
            pl.col("waiting_s").sum().alias("waiting_total_s"),
            pl.col("waiting_s").mean().alias("waiting_mean_s"),
            pl.col("waiting_s").median().alias("waiting_median_s"),
        )
        .sort("waiting_total_s", ACTIVITY, descending=[True, False])
    )
    per_case = (
        inst.group_by(CASE)
        .agg(
            pl.col("waiting_s").sum().alias("waiting_s"),
            pl.col("service_s").sum().alias("service_s"),
            seconds(pl.col("end").max() - pl.col("start").min()).alias("duration_s"),
        )
        .with_columns(
            pl.when(pl.col("duration_s") > 0)
            .then(pl.col("waiting_s") / pl.col("duration_s"))
            .otherwise(0.0)
            .alias("waiting_share")
        )
        .sort(CASE)
    )
    total_wait = float(per_case["waiting_s"].sum())
    total_duration = float(per_case["duration_s"].sum())
    return {
        "activities": per_activity.to_dicts(),
        "cases": per_case.to_dicts(),
        "waiting_share": total_wait / total_duration if total_duration else 0.0,
    }


def bottlenecks(log: EventLog, *, top: int = 10) -> dict[str, Any]:
    """Activities ranked by the waiting before them: total, and 90th percentile of one wait."""
    inst = instances(log)
    total = float(inst["waiting_s"].sum()) or 1.0
    ranked = (
        inst.group_by(ACTIVITY)
        .agg(
            pl.len().alias("instances"),
            pl.col("waiting_s").sum().alias("waiting_total_s"),
            pl.col("waiting_s").quantile(0.9, "linear").alias("waiting_p90_s"),
            pl.col("waiting_s").mean().alias("waiting_mean_s"),
        )
        .with_columns((pl.col("waiting_total_s") / total).alias("waiting_share"))
    )
    by_total = ranked.sort("waiting_total_s", ACTIVITY, descending=[True, False]).head(top)
    by_p90 = ranked.sort("waiting_p90_s", ACTIVITY, descending=[True, False]).head(top)
    return {"by_total": by_total.to_dicts(), "by_p90": by_p90.to_dicts()}


def rework(log: EventLog) -> list[dict[str, Any]]:
    """Activities executed more than once in a case: cases affected and extra executions."""
    counts = instances(log).group_by(CASE, ACTIVITY).len()
    cases = counts[CASE].n_unique() or 1
    repeated = (
        counts.filter(pl.col("len") > 1)
        .group_by(ACTIVITY)
        .agg(pl.len().alias("cases"), (pl.col("len") - 1).sum().alias("extra_executions"))
        .with_columns((pl.col("cases") / cases).alias("case_share"))
        .sort("cases", ACTIVITY, descending=[True, False])
    )
    return repeated.to_dicts()


def handover(log: EventLog) -> list[dict[str, Any]]:
    """Work handed from one resource to the next within a case: (from, to, count)."""
    inst = instances(log).filter(pl.col(RESOURCE).is_not_null())
    pairs = inst.with_columns(
        pl.col(RESOURCE).shift(-1).over(CASE).alias("to"),
    ).filter(pl.col("to").is_not_null() & (pl.col("to") != pl.col(RESOURCE)))
    table = pairs.group_by(RESOURCE, "to").len().sort("len", RESOURCE, "to", descending=[True, False, False])
    return [{"from": f, "to": t, "count": n} for f, t, n in table.iter_rows()]


def duplicate_entry(log: EventLog, *, attributes: list[str] | None = None) -> dict[str, Any]:
    """The same data typed into two systems in one case (the guide's "customer data typed into both
    CRM and ERP"): the same activity recorded by ≥ 2 systems, or the same value of an attribute
    recorded by ≥ 2 systems. Needs a ``system`` column."""
    frame = log.frame.filter(pl.col(SYSTEM).is_not_null())
    cases = log.frame[CASE].n_unique() or 1
    if frame.is_empty():
        return {"activities": [], "attributes": [], "cases": 0, "case_share": 0.0}
    by_activity = (
        frame.group_by(CASE, ACTIVITY)
        .agg(pl.col(SYSTEM).unique().sort().alias("systems"))
        .filter(pl.col("systems").list.len() > 1)
    )
    activities = (
        by_activity.group_by(ACTIVITY)
        .agg(pl.len().alias("cases"), pl.col("systems").list.explode().unique().sort().alias("systems"))
        .with_columns((pl.col("cases") / cases).alias("case_share"))
        .sort("cases", ACTIVITY, descending=[True, False])
    )
    names = attributes if attributes is not None else _attribute_columns(frame)
    found: list[dict[str, Any]] = []
    affected = set(by_activity[CASE].to_list())
    for name in names:
        if name not in frame.columns:
            raise InvalidInput("no attribute {name!r} in the log", name=name)
        dup = (
            frame.filter(pl.col(name).is_not_null())
            .group_by(CASE, pl.col(name).cast(pl.String))
            .agg(pl.col(SYSTEM).n_unique().alias("n"), pl.col(SYSTEM).unique().sort().alias("systems"))
            .filter(pl.col("n") > 1)
        )
        if dup.height:
            affected.update(dup[CASE].to_list())
            systems = sorted({s for row in dup["systems"].to_list() for s in row})
            found.append(
                {
                    "attribute": name,
                    "cases": dup[CASE].n_unique(),
                    "systems": systems,
                    "case_share": dup[CASE].n_unique() / cases,
                }
            )
    return {
        "activities": activities.to_dicts(),
        "attributes": found,
        "cases": len(affected),
        "case_share": len(affected) / cases,
    }


def _attribute_columns(frame: pl.DataFrame) -> list[str]:
    from isthmus.mining._schema import CORE_COLUMNS

    return [
        c
        for c in frame.columns
        if c not in (*CORE_COLUMNS, INDEX)
        and not c.startswith("case:")
        and c not in ("ocel:eid", "concept:instance")
    ]


_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration (``PT10M``, ``P1DT2H``, ``P2W``); years and months are refused because
    their length in seconds is not fixed."""
    match = _ISO.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise InvalidInput("not an ISO 8601 duration: {value!r} (e.g. PT10M, P1DT2H)", value=text)
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


@dataclass(frozen=True, slots=True)
class SlaBreach:
    activity: str
    sla_s: float
    instances: int
    breaches: int
    worst_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "activity": self.activity,
            "sla_s": self.sla_s,
            "instances": self.instances,
            "breaches": self.breaches,
            "breach_share": self.breaches / self.instances if self.instances else 0.0,
            "worst_s": self.worst_s,
        }


def sla_breaches(log: EventLog, slas: dict[str, str]) -> list[SlaBreach]:
    """Instances whose lead time (waiting before + service) exceeds the activity's SLA."""
    limits = {activity: parse_duration(text).total_seconds() for activity, text in slas.items()}
    inst = instances(log).filter(pl.col(ACTIVITY).is_in(list(limits)))
    inst = inst.with_columns((pl.col("waiting_s") + pl.col("service_s")).alias("lead_s"))
    found: list[SlaBreach] = []
    for activity, limit in sorted(limits.items()):
        rows = inst.filter(pl.col(ACTIVITY) == activity)["lead_s"]
        found.append(
            SlaBreach(
                activity,
                limit,
                rows.len(),
                int((rows > limit).sum()),
                float(rows.max() or 0.0) if rows.len() else 0.0,  # type: ignore[arg-type]
            )
        )
    return sorted(found, key=lambda b: (-b.breaches, b.activity))
