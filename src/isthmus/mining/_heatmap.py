"""A deployed BPMN model coloured by mined waiting time: the to-be (or as-designed) diagram with
the log's numbers on it, so the owner sees *where in the model* the time is lost.

Each flow node of the model maps to at most one activity of the log — by its name, else by its id
(engine logs carry node ids; logs of other systems carry names). Names are compared after
collapsing runs of white space, since a label typed in the modeler often wraps or doubles a
space. A node without a matching activity stays uncoloured (grey in the UI).

The colour scale has :data:`LEVELS` steps of equal width from 0 to the largest value among the
matched nodes: a node is on level ``min(LEVELS, 1 + floor(LEVELS * value / max))`` (level 1 when
every value is 0). Equal widths keep the legend readable in hours; a log with one huge outlier
shows it as the only hot node, which is what a bottleneck looks like.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import polars as pl

from isthmus.mining._log import EventLog
from isthmus.mining._schema import ACTIVITY
from isthmus.mining._value_stream import instances

LEVELS = 5


class HeatMetric(StrEnum):
    """Which waiting time colours a node: the mean wait or the 90th percentile of one wait."""

    MEAN = "mean"
    P90 = "p90"


@dataclass(frozen=True, slots=True)
class ActivityTimes:
    """The value-stream numbers of one activity (see ``_value_stream`` for the definitions)."""

    instances: int
    waiting_mean_s: float
    waiting_p90_s: float
    service_mean_s: float


@dataclass(frozen=True, slots=True)
class FlowNodeRef:
    """A flow node of a BPMN model as the heat map needs it."""

    id: str
    kind: str
    name: str


def activity_times(log: EventLog) -> dict[str, ActivityTimes]:
    """Instances, mean and p90 waiting, and mean service time per activity (p90 interpolated
    linearly, as in :func:`bottlenecks`)."""
    table = (
        instances(log)
        .group_by(ACTIVITY)
        .agg(
            pl.len().alias("instances"),
            pl.col("waiting_s").mean().alias("waiting_mean_s"),
            pl.col("waiting_s").quantile(0.9, "linear").alias("waiting_p90_s"),
            pl.col("service_s").mean().alias("service_mean_s"),
        )
    )
    return {
        row[ACTIVITY]: ActivityTimes(
            instances=int(row["instances"]),
            waiting_mean_s=float(row["waiting_mean_s"] or 0.0),
            waiting_p90_s=float(row["waiting_p90_s"] or 0.0),
            service_mean_s=float(row["service_mean_s"] or 0.0),
        )
        for row in table.iter_rows(named=True)
    }


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def match_activity(node: FlowNodeRef, activities: Iterable[str]) -> tuple[str, str] | None:
    """The activity ``node`` stands for and how it was found (``"name"`` or ``"id"``), or None."""
    by_name = {_squeeze(a): a for a in activities}
    if node.name and _squeeze(node.name) in by_name:
        return by_name[_squeeze(node.name)], "name"
    if node.id in by_name.values():
        return node.id, "id"
    return None


def level(value: float, top: float) -> int:
    """The colour step of ``value`` on a scale from 0 to ``top`` (see the module docstring)."""
    if top <= 0:
        return 1
    return min(LEVELS, 1 + math.floor(LEVELS * value / top))


def heat_map(
    nodes: Iterable[FlowNodeRef],
    times: Mapping[str, ActivityTimes],
    *,
    metric: HeatMetric = HeatMetric.MEAN,
    breaches: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every node with its matched activity, numbers and colour level; ``breaches`` maps an
    activity to its SLA-breach row (``sla_s``, ``breaches``, ``breach_share``, ``source`` …)."""
    breaches = breaches or {}
    rows: list[dict[str, Any]] = []
    for node in nodes:
        found = match_activity(node, times)
        row: dict[str, Any] = {"id": node.id, "kind": node.kind, "name": node.name}
        if found is None:
            rows.append(row | {"activity": None, "matched_by": None})
            continue
        activity, how = found
        t = times[activity]
        sla = breaches.get(activity)
        rows.append(
            row
            | {
                "activity": activity,
                "matched_by": how,
                "instances": t.instances,
                "waiting_mean_s": t.waiting_mean_s,
                "waiting_p90_s": t.waiting_p90_s,
                "service_mean_s": t.service_mean_s,
                "value_s": t.waiting_p90_s if metric is HeatMetric.P90 else t.waiting_mean_s,
                "sla": dict(sla) if sla else None,
            }
        )
    matched = [r for r in rows if r["activity"] is not None]
    top = max((r["value_s"] for r in matched), default=0.0)
    for r in matched:
        r["level"] = level(r["value_s"], top)
    used = {r["activity"] for r in matched}
    return {
        "metric": metric.value,
        "levels": LEVELS,
        "max_s": top,
        "scale": [
            {"level": i, "from_s": top * (i - 1) / LEVELS, "to_s": top * i / LEVELS}
            for i in range(1, LEVELS + 1)
        ],
        "nodes": rows,
        "matched": len(matched),
        "unmatched_activities": sorted(a for a in times if a not in used),
    }
