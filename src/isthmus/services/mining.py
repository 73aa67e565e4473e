"""Use cases of event logs: import and register, analyse, link to the catalog, propose pain points.

SLAs come from three sources, later ones winning per activity: the catalog process the log is
linked to (its per-node SLAs), a BPMN model's ``isthmus:sla`` attributes when one is chosen, and
SLAs given with the request. Every breach row names the source its SLA came from.

Importing is a state change (``log:import``, one audit record ``log.import``): the events are
written to ``<data dir>/logs/<id>.parquet.tmp``, renamed into place once complete, and only then is
the registry row committed — a bad or interrupted import leaves nothing registered. Analyses read
(``log:read``) and keep the last few logs in memory, since a stored log never changes.
"""

from __future__ import annotations

import builtins
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import polars as pl

from isthmus import mining
from isthmus.catalog import ProcessId
from isthmus.errors import InvalidInput, NotFound
from isthmus.mining import ColumnMapping, EventLog, Selection, StoredLog
from isthmus.mining._heatmap import ActivityTimes, FlowNodeRef, HeatMetric, activity_times, heat_map
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.catalog import CatalogService
from isthmus.services.ports import Clock, UnitOfWorkFactory

OBJECT = "event_log"
CACHE_SIZE = 4
ANALYSES = (
    "dfg",
    "performance",
    "variants",
    "durations",
    "throughput",
    "waiting",
    "bottlenecks",
    "rework",
    "handover",
    "duplicates",
    "statistics",
)


class SlaSource(StrEnum):
    """Where an activity's SLA came from (see the module docstring for the precedence)."""

    CATALOG = "catalog"
    MODEL = "model"
    GIVEN = "given"


@dataclass(frozen=True, slots=True)
class Sla:
    duration: str
    source: SlaSource


@dataclass(frozen=True, slots=True)
class Proposal:
    """A pain point the log suggests; the owner accepts it as is or edits the text."""

    kind: str
    text: str
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "evidence": self.evidence}


class MiningService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, logs_dir: Path, catalog: CatalogService
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self.logs_dir = logs_dir
        self._catalog = catalog
        self._cache: OrderedDict[str, EventLog] = OrderedDict()
        # Per-activity times of the heat map: a stored log never changes, and switching the metric
        # or the model should not recompute every activity instance of a million-event log.
        self._times: OrderedDict[str, dict[str, ActivityTimes]] = OrderedDict()
        self._lock = threading.Lock()

    # --- import -------------------------------------------------------------------------------

    def import_file(
        self,
        principal: Principal,
        path: Path,
        *,
        name: str | None = None,
        mapping: ColumnMapping | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> StoredLog:
        """Read ``path`` (CSV, XES, XES.gz, Parquet, OCEL 2.0), store it and register it."""
        principal.require("log:import")
        display = name or path.name
        fmt = mining.detect_format(display)
        log = mining.read_log(path, mapping, fmt=fmt, progress=progress)
        return self._register(principal, log, display, fmt.value)

    def import_engine_history(
        self, principal: Principal, *, name: str = "engine history", limit: int = 5_000_000
    ) -> StoredLog:
        """Register the engine's own event log (every process instance it ran) as a log, so the
        "after" process is mined exactly like the "before" one imported from a legacy system."""
        principal.require("log:import")
        with self._uow() as uow:
            lines = uow.history.all(limit=limit)
        if not lines:
            raise InvalidInput("the engine has no history yet")
        frame = pl.DataFrame(
            {
                mining.CASE: [line.case_id for line in lines],
                mining.ACTIVITY: [line.activity for line in lines],
                mining.TIMESTAMP: pl.Series(
                    [line.timestamp for line in lines], dtype=pl.Datetime("us", "UTC")
                ),
                mining.LIFECYCLE: [line.lifecycle for line in lines],
                mining.RESOURCE: [line.resource or None for line in lines],
                mining.SYSTEM: [line.system for line in lines],
                "instance_id": [line.instance_id for line in lines],
                "node_id": [line.node_id for line in lines],
            }
        )
        return self._register(principal, EventLog.of(frame), name, "engine")

    def _register(self, principal: Principal, log: EventLog, name: str, fmt: str) -> StoredLog:
        log_id = str(uuid.uuid4())
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        final = self.logs_dir / f"{log_id}.parquet"
        partial = final.with_suffix(".parquet.tmp")
        try:
            log.frame.write_parquet(partial, compression="zstd", statistics=True)
            partial.replace(final)
            stored = StoredLog(
                id=log_id,
                name=name,
                file=final.name,
                source_format=fmt,
                statistics=mining.statistics(log),
                imported_at=self._clock.now(),
                imported_by=principal.actor,
            )
            with self._uow() as uow:
                stored = uow.event_logs.add(stored)
                audit.record(
                    uow, self._clock, principal, "log.import", OBJECT, log_id, after=stored.summary()
                )
                uow.commit()
        except BaseException:
            partial.unlink(missing_ok=True)
            final.unlink(missing_ok=True)
            raise
        self._remember(log_id, log)
        return stored

    # --- reading ------------------------------------------------------------------------------

    def list(self, principal: Principal) -> list[StoredLog]:
        principal.require("log:read")
        with self._uow() as uow:
            return uow.event_logs.list()

    def get(self, principal: Principal, log_id: str) -> StoredLog:
        principal.require("log:read")
        with self._uow() as uow:
            found = uow.event_logs.get(log_id)
        if found is None:
            raise NotFound("no event log with id {id}", id=log_id)
        return found

    def load(self, principal: Principal, log_id: str) -> EventLog:
        stored = self.get(principal, log_id)
        with self._lock:
            cached = self._cache.get(log_id)
            if cached is not None:
                self._cache.move_to_end(log_id)
                return cached
        log = EventLog.presorted(pl.read_parquet(self.logs_dir / stored.file))
        self._remember(log_id, log)
        return log

    def _remember(self, log_id: str, log: EventLog) -> None:
        with self._lock:
            self._cache[log_id] = log
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    # --- analyses -----------------------------------------------------------------------------

    def analyse(
        self,
        principal: Principal,
        log_id: str,
        kind: str,
        *,
        selection: Selection | None = None,
        **options: Any,
    ) -> Any:
        """One analysis as JSON data (see ``docs/mining.md`` for each shape), of the part of the log
        ``selection`` keeps (all of it by default)."""
        if kind not in ANALYSES:
            raise InvalidInput(
                "unknown analysis {kind!r}; one of {known}", kind=kind, known=", ".join(ANALYSES)
            )
        log = self.load(principal, log_id)
        return run_analysis(selection.apply(log) if selection else log, kind, **options)

    def conformance(self, principal: Principal, log_id: str, model: bytes, model_name: str) -> dict[str, Any]:
        net = mining.net_from_bpmn(model, model_name)
        return mining.token_replay(self.load(principal, log_id), net).as_dict()

    def slas(
        self,
        principal: Principal,
        log_id: str,
        *,
        model: dict[str, str] | None = None,
        given: dict[str, str] | None = None,
    ) -> dict[str, Sla]:
        """The SLA of each activity: the linked catalog process's, overridden by ``model``'s,
        overridden by ``given`` (each a mapping of activity name to ISO 8601 duration)."""
        stored = self.get(principal, log_id)
        found: dict[str, Sla] = {}
        if stored.process_id:
            with self._uow() as uow:
                catalog = uow.processes.slas(ProcessId(stored.process_id))
            found |= {s.node: Sla(s.duration, SlaSource.CATALOG) for s in catalog}
        found |= {a: Sla(d, SlaSource.MODEL) for a, d in (model or {}).items()}
        found |= {a: Sla(d, SlaSource.GIVEN) for a, d in (given or {}).items()}
        return found

    def sla(
        self,
        principal: Principal,
        log_id: str,
        given: dict[str, str] | None = None,
        *,
        model: dict[str, str] | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """SLA breaches per activity, each row with the ``source`` of its SLA (see :meth:`slas`)."""
        slas = self.slas(principal, log_id, model=model, given=given)
        return _breaches(self.load(principal, log_id), slas)

    def heatmap(
        self,
        principal: Principal,
        log_id: str,
        model: bytes,
        model_name: str,
        *,
        metric: HeatMetric = HeatMetric.MEAN,
        given: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The model's flow nodes with the mined waiting and service times of the activity each
        maps to, a colour level, and SLA breaches (catalog, the model's own, then ``given``)."""
        nodes, _flows = mining.read_bpmn(model, model_name)
        slas = self.slas(principal, log_id, model=mining.slas_from_bpmn(model, model_name), given=given)
        log = self.load(principal, log_id)
        breaches = {row["activity"]: row for row in _breaches(log, slas)}
        refs = [FlowNodeRef(n.id, n.kind, n.name) for n in nodes]
        return heat_map(refs, self._activity_times(log_id, log), metric=metric, breaches=breaches)

    def _activity_times(self, log_id: str, log: EventLog) -> dict[str, ActivityTimes]:
        with self._lock:
            cached = self._times.get(log_id)
            if cached is not None:
                self._times.move_to_end(log_id)
                return cached
        found = activity_times(log)
        with self._lock:
            self._times[log_id] = found
            while len(self._times) > CACHE_SIZE:
                self._times.popitem(last=False)
        return found

    def as_is_bpmn(self, principal: Principal, log_id: str, coverage: float = 0.8) -> str:
        if not 0.0 < coverage <= 1.0:
            raise InvalidInput("coverage must be in (0, 1], got {value}", value=coverage)
        stored = self.get(principal, log_id)
        return mining.discovered_bpmn(
            mining.dfg(self.load(principal, log_id)), coverage=coverage, name=stored.name
        )

    def edge_cases(
        self, principal: Principal, log_id: str, source: str, target: str, limit: int = 200
    ) -> dict[str, Any]:
        """The cases in which ``target`` directly follows ``source`` (drill-down from the map)."""
        log = self.load(principal, log_id)
        frame = log.frame.select(mining.CASE, mining.ACTIVITY)
        hits = frame.filter(
            (pl.col(mining.ACTIVITY) == source)
            & (pl.col(mining.ACTIVITY).shift(-1) == target)
            & (pl.col(mining.CASE).shift(-1) == pl.col(mining.CASE))
        )[mining.CASE].unique(maintain_order=True)
        return {
            "source": source,
            "target": target,
            "cases": hits.len(),
            "case_ids": hits.head(limit).to_list(),
        }

    # --- into the catalog ---------------------------------------------------------------------

    def link(
        self, principal: Principal, log_id: str, process_id: str, *, key_node_share: float = 0.0
    ) -> dict[str, Any]:
        """Fill the process's average handling hours (mean case duration) and key node count
        (activities holding ≥ ``key_node_share`` of the events; 0: every distinct activity)."""
        principal.require("log:read")
        process = self._catalog.get(principal, process_id)
        log = self.load(principal, log_id)
        durations = mining.case_durations(log)["duration_s"]
        hours = Decimal(str((durations.mean() or 0.0) / 3600)).quantize(Decimal("0.01"), ROUND_HALF_UP)  # type: ignore[operator]
        counts = log.frame[mining.ACTIVITY].value_counts()
        share = counts["count"] / max(log.frame.height, 1)
        key_nodes = int((share >= key_node_share).sum()) if key_node_share > 0 else counts.height
        updated = self._catalog.update(principal, process.with_changes(avg_hours=hours, key_nodes=key_nodes))
        with self._uow() as uow:
            before = uow.event_logs.get(log_id)
            uow.event_logs.link(log_id, updated.id)
            audit.record(
                uow,
                self._clock,
                principal,
                "log.link",
                OBJECT,
                log_id,
                before={"process_id": before.process_id if before else None},
                after={"process_id": updated.id},
            )
            uow.commit()
        return {
            "process_id": updated.id,
            "avg_hours": float(hours),
            "key_nodes": key_nodes,
            "version": updated.version,
        }

    def proposals(
        self,
        principal: Principal,
        log_id: str,
        *,
        slas: dict[str, str] | None = None,
        model: dict[str, str] | None = None,
    ) -> builtins.list[Proposal]:
        """Pain points the data supports: top bottlenecks, rework, duplicate entry, SLA breaches
        (of the SLAs :meth:`slas` finds, ``slas`` being the given ones)."""
        effective = self.slas(principal, log_id, model=model, given=slas)
        log = self.load(principal, log_id)
        return propose(log, {activity: sla.duration for activity, sla in effective.items()})

    def accept(self, principal: Principal, process_id: str, texts: builtins.list[str]) -> dict[str, Any]:
        """Append the accepted (possibly edited) pain points to the process (audited update)."""
        process = self._catalog.get(principal, process_id)
        new = [t.strip() for t in texts if t.strip() and t.strip() not in process.pain_points]
        updated = self._catalog.update(
            principal, process.with_changes(pain_points=(*process.pain_points, *new))
        )
        return {
            "process_id": updated.id,
            "pain_points": list(updated.pain_points),
            "version": updated.version,
        }


def _breaches(log: EventLog, slas: dict[str, Sla]) -> list[dict[str, Any]]:
    if not slas:
        return []
    found = mining.sla_breaches(log, {activity: sla.duration for activity, sla in slas.items()})
    return [
        b.as_dict() | {"duration": slas[b.activity].duration, "source": slas[b.activity].source.value}
        for b in found
    ]


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def propose(log: EventLog, slas: dict[str, str]) -> list[Proposal]:
    out: list[Proposal] = []
    for row in mining.bottlenecks(log, top=3)["by_total"]:
        if row["waiting_total_s"] > 0:
            out.append(
                Proposal(
                    "bottleneck",
                    f"Waiting before “{row['activity']}”: {row['waiting_share']:.0%} of all "
                    f"waiting, 90% of waits under {_hours(row['waiting_p90_s'])}",
                    row,
                )
            )
    for row in mining.rework(log)[:3]:
        out.append(
            Proposal(
                "rework",
                f"“{row['activity']}” repeated in {row['case_share']:.0%} of cases "
                f"({row['extra_executions']} extra executions)",
                row,
            )
        )
    dup = mining.duplicate_entry(log)
    for row in dup["activities"][:3]:
        out.append(
            Proposal(
                "duplicate_entry",
                f"“{row['activity']}” recorded in {' and '.join(row['systems'])} "
                f"in {row['case_share']:.0%} of cases (typed twice)",
                row,
            )
        )
    for row in dup["attributes"][:3]:
        out.append(
            Proposal(
                "duplicate_entry",
                f"{row['attribute']} entered in {' and '.join(row['systems'])} "
                f"in {row['case_share']:.0%} of cases",
                row,
            )
        )
    for breach in mining.sla_breaches(log, slas) if slas else []:
        if breach.breaches:
            b = breach.as_dict()
            out.append(
                Proposal(
                    "sla",
                    f"“{breach.activity}” misses its SLA ({_hours(breach.sla_s)}) in "
                    f"{b['breach_share']:.0%} of executions",
                    b,
                )
            )
    return out


def run_analysis(log: EventLog, kind: str, **options: Any) -> Any:
    """The JSON data of one analysis of ``log``."""
    if kind == "dfg":
        return mining.dfg(log).as_dict()
    if kind == "performance":
        return mining.performance_dfg(log).as_dict()
    if kind == "variants":
        found = mining.variants(log)
        top = options.get("top")
        return {"variants": [v.as_dict() for v in (found[: int(top)] if top else found)], "total": len(found)}
    if kind == "durations":
        table = mining.case_durations(log)
        return {
            "cases": [
                {"case_id": c, "duration_s": d}
                for c, d in table.select(mining.CASE, "duration_s").iter_rows()
            ]
        }
    if kind == "throughput":
        return mining.throughput(log)
    if kind == "waiting":
        return mining.waiting(log)
    if kind == "bottlenecks":
        return mining.bottlenecks(log, top=int(options.get("top", 10)))
    if kind == "rework":
        return {"activities": mining.rework(log)}
    if kind == "handover":
        return {"handovers": mining.handover(log)}
    if kind == "duplicates":
        return mining.duplicate_entry(log)
    return mining.statistics(log).as_dict()
