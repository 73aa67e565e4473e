"""Data-quality use cases that keep state: review decisions on duplicates, and migrations as jobs.

**Reviews.** A reviewer marks a duplicate cluster *merge* or *keep apart*; the decision is stored
per pair of records (named by the digest of their values, see ``isthmus.quality._review``) in the
same transaction as its audit record (``dedupe.review``), and every later de-duplication of the same
dataset honours it.

**Migrations.** Plans are YAML files in ``<data dir>/migrations/`` (the same format as
``isthmus migrate``). Dry run, run, verify and rollback of a plan are queued as ``migration`` jobs:
a browser does not wait minutes on one request. The job's work runs in ``prepare`` — outside the job's
transaction, because the migration commits batch by batch in the *target* database (which may be
the same SQLite file) — and writes its progress to ``<data dir>/migrations/jobs/<job>.json`` after
each batch, which the pages poll. A plan is checked against both sides before it is queued, so bad
input is refused at once, before anything is written.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from isthmus.errors import InvalidInput, NotFound
from isthmus.jobs import Job, NewJob, RetryPolicy
from isthmus.quality import (
    Decision,
    DedupeConfig,
    DedupeResult,
    MigrationPlan,
    PairDecision,
    dedupe,
    pairs_for,
    parse_plan,
)
from isthmus.security import Principal, PrincipalKind
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

MIGRATION = "migration"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ReviewRepository(Protocol):
    """Review decisions per dataset. ``put`` replaces the decision of a pair decided before."""

    def put(self, dataset: str, pairs: Sequence[PairDecision], actor: str, now: Any) -> None: ...

    def remove(self, dataset: str, pairs: Sequence[PairDecision]) -> int: ...

    def list(self, dataset: str) -> list[dict[str, Any]]: ...


class QualityService:
    """Review decisions on duplicate clusters, and de-duplication that honours them."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, reviews: Callable[[UnitOfWork], ReviewRepository]
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._reviews = reviews

    def decide(self, principal: Principal, dataset: str, records: Sequence[str], decision: Decision) -> list[PairDecision]:  # fmt: skip
        """Store a decision on the records of one cluster (audited as ``dedupe.review``)."""
        principal.require("data:clean")
        dataset = _dataset(dataset)
        pairs = pairs_for([str(r) for r in records], decision)
        with self._uow() as uow:
            self._reviews(uow).put(dataset, pairs, principal.actor, self._clock.now())
            after = {"decision": decision.value, "records": list(dict.fromkeys(records))}
            audit.record(uow, self._clock, principal, "dedupe.review", "dataset", dataset, after=after)
            uow.commit()
        return pairs

    def forget(self, principal: Principal, dataset: str, records: Sequence[str]) -> int:
        """Drop the decisions on every pair of ``records`` (audited as ``dedupe.review.forget``)."""
        principal.require("data:clean")
        dataset = _dataset(dataset)
        pairs = pairs_for([str(r) for r in records], Decision.APART)  # every pair of the records
        with self._uow() as uow:
            removed = self._reviews(uow).remove(dataset, pairs)
            before = {"records": list(dict.fromkeys(records))}
            audit.record(
                uow, self._clock, principal, "dedupe.review.forget", "dataset", dataset, before=before
            )
            uow.commit()
        return removed

    def decisions(self, principal: Principal, dataset: str) -> list[dict[str, Any]]:
        principal.require("data:read")
        with self._uow() as uow:
            return self._reviews(uow).list(_dataset(dataset))

    def dedupe(
        self, principal: Principal, dataset: str, frame: pl.DataFrame, config: DedupeConfig | None = None
    ) -> DedupeResult:
        """:func:`isthmus.quality.dedupe` with the dataset's stored decisions applied."""
        stored = self.decisions(principal, dataset)
        decided = [PairDecision(d["first"], d["second"], Decision(d["decision"])) for d in stored]
        return dedupe(frame, config, file=dataset, decisions=decided)


def _dataset(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("dataset: expected a name of 1 to 200 characters", field="dataset")
    return name


# -- migrations --------------------------------------------------------------------------------------


class MigrationAction(StrEnum):
    DRY_RUN = "plan"
    RUN = "run"
    INCREMENTAL = "incremental"
    VERIFY = "verify"
    ROLLBACK = "rollback"

    @property
    def permission(self) -> str:
        writes = self in (MigrationAction.RUN, MigrationAction.INCREMENTAL, MigrationAction.ROLLBACK)
        return "data:clean" if writes else "data:read"


class MigrationExecutor(Protocol):
    """Runs plans against real sources and targets (``isthmus.adapters.tabular.migrate``).

    ``check`` raises ``InvalidInput`` when the plan does not fit both sides (nothing written);
    ``run`` calls ``progress(done, total)`` after each committed batch.
    """

    def check(self, plan: MigrationPlan) -> None: ...

    def dry_run(self, plan: MigrationPlan) -> dict[str, Any]: ...

    def run(self, plan: MigrationPlan, *, incremental: bool, progress: Callable[[int, int], None]) -> dict[str, Any]: ...  # fmt: skip

    def verify(self, plan: MigrationPlan) -> dict[str, Any]: ...

    def rollback(self, plan: MigrationPlan, run_id: str) -> dict[str, Any]: ...

    def runs(self, plan: MigrationPlan) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class PlanSummary:
    name: str
    source: str
    target: str
    key: str
    columns: int


class MigrationService:
    """Plans (files), and their dry runs, runs, verifications and rollbacks as background jobs."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, folder: Path, executor: MigrationExecutor) -> None:  # fmt: skip
        self._uow = uow_factory
        self._clock = clock
        self._folder = folder
        self._executor = executor

    # plans

    def save_plan(self, principal: Principal, name: str, text: str) -> MigrationPlan:
        principal.require("data:clean")
        plan = parse_plan(text, file=f"{_name(name)}.yaml")
        with self._uow() as uow:
            audit.record(uow, self._clock, principal, "migration.plan.save", "migration_plan", name,
                         after={"source": plan.source, "target": plan.target, "key": plan.key})  # fmt: skip
            self._folder.mkdir(parents=True, exist_ok=True)
            _write(self._folder / f"{name}.yaml", text)
            uow.commit()
        return plan

    def plans(self, principal: Principal) -> list[PlanSummary]:
        principal.require("data:read")
        found = []
        for path in sorted(self._folder.glob("*.yaml")):
            plan = parse_plan(path.read_text(encoding="utf-8"), file=path.name)
            found.append(PlanSummary(path.stem, plan.source, plan.target, plan.key, len(plan.mapping)))
        return found

    def plan(self, principal: Principal, name: str) -> tuple[str, MigrationPlan]:
        """The plan's text and its parsed form."""
        principal.require("data:read")
        return self._read_plan(name)

    def _read_plan(self, name: str) -> tuple[str, MigrationPlan]:
        path = self._folder / f"{_name(name)}.yaml"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound("no migration plan {name}", name=name) from None
        return text, parse_plan(text, file=path.name)

    def runs(self, principal: Principal, name: str) -> list[dict[str, Any]]:
        _, plan = self.plan(principal, name)
        return self._executor.runs(plan)

    # jobs

    def start(self, principal: Principal, name: str, action: MigrationAction, *, run_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Check the plan against both sides, then queue the action; the job's state as a dict."""
        principal.require(action.permission)
        _, plan = self.plan(principal, name)
        if action is MigrationAction.ROLLBACK and not run_id:
            raise InvalidInput("run: rollback needs the run to undo", field="run")
        if action is not MigrationAction.ROLLBACK:
            self._executor.check(plan)  # bad input stops here, before anything is queued or written
        now = self._clock.now()
        job_id = f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"
        state = {"job": job_id, "plan": name, "action": action.value, "run": run_id, "state": "queued",
                 "requested_by": principal.actor, "requested_at": now.isoformat(), "done": 0, "total": None,
                 "result": None, "error": None}  # fmt: skip
        with self._uow() as uow:
            uow.jobs.enqueue(NewJob(kind=MIGRATION, payload={"job": job_id}, run_at=now, serial_key=f"migration:{name}",
                                    dedupe_key=f"migration:{job_id}", policy=RetryPolicy(max_attempts=1)), now)  # fmt: skip
            self._save(state)  # before the commit: a worker may claim the job the moment it is committed
            uow.commit()
        return state

    def job(self, principal: Principal, job_id: str) -> dict[str, Any]:
        principal.require("data:read")
        state = self._load(job_id)
        if state is None:
            raise NotFound("no migration job {job}", job=job_id)
        return state

    def prepare(self, job: Job) -> None:
        """The job's work, outside its transaction; a job that already finished is not run again."""
        state = self._load(str(job.payload["job"]))
        if state is None or state["state"] in ("done", "failed"):
            return
        self._save(state | {"state": "running"})
        try:
            _, plan = self._read_plan(state["plan"])
            result = self._perform(plan, state)
        except Exception as error:  # the outcome of the job, shown on the page; not a job incident
            text = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            self._save((self._load(state["job"]) or state) | {"state": "failed", "error": text})
            return
        self._save((self._load(state["job"]) or state) | {"state": "done", "result": result})

    def __call__(self, job: Job, uow: UnitOfWork) -> None:
        """Audit the outcome of a run or rollback in the job's transaction."""
        state = self._load(str(job.payload["job"]))
        if state is None or state["action"] in (MigrationAction.DRY_RUN, MigrationAction.VERIFY):
            return
        after = {"action": state["action"], "state": state["state"], "result": state["result"], "error": state["error"]}  # fmt: skip
        audit.record(uow, self._clock, _requester(state), f"migration.{state['action']}", "migration_plan",
                     state["plan"], after=after)  # fmt: skip

    def _perform(self, plan: MigrationPlan, state: dict[str, Any]) -> dict[str, Any]:
        action = MigrationAction(state["action"])
        if action is MigrationAction.DRY_RUN:
            return self._executor.dry_run(plan)
        if action is MigrationAction.VERIFY:
            return self._executor.verify(plan)
        if action is MigrationAction.ROLLBACK:
            return self._executor.rollback(plan, str(state["run"]))

        def progress(done: int, total: int) -> None:
            self._save(state | {"state": "running", "done": done, "total": total})

        return self._executor.run(plan, incremental=action is MigrationAction.INCREMENTAL, progress=progress)

    def _path(self, job_id: str) -> Path:
        if not _SAFE_NAME.match(job_id):
            raise NotFound("no migration job {job}", job=job_id)
        return self._folder / "jobs" / f"{job_id}.json"

    def _load(self, job_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = json.loads(self._path(job_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return found

    def _save(self, state: dict[str, Any]) -> None:
        path = self._path(state["job"])
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, json.dumps(state, ensure_ascii=False, default=str))


def _name(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise InvalidInput(
            "name: letters, digits, '.', '_' and '-' (at most 64), got {value!r}", field="name", value=name
        )
    return name


def _requester(state: dict[str, Any]) -> Principal:
    """Who asked for the job, as the audit trail names them (the check was made when it was queued)."""
    return Principal(actor=state["requested_by"], kind=PrincipalKind.USER)


def _write(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)  # a poll never reads half a file
