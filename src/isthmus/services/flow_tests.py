"""Flow test runs as background jobs, with progress a page can poll.

``isthmus flow test`` blocks a terminal for the seconds its fault scenarios take (timeouts are
real); a browser should not wait on one request that long. ``start`` enqueues a ``flow.test`` job;
its handler (any worker) runs the scenarios and writes the run — state, one result per finished
scenario — to ``<data dir>/flow-tests/<flow>/<run>.json`` after each scenario, which is what the page
polls. The outcome sets the flow's 测试状态 (table 2) and is audited as ``flow.test``, exactly as the
CLI does. Files rather than a table: a run is a report, rewritten a few times and then only read,
and the worker and the web share the data directory as they do for flow cursors.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from isthmus.errors import InvalidInput, NotFound
from isthmus.integration import TestStatus
from isthmus.jobs import Job, NewJob, RetryPolicy
from isthmus.security import Principal, PrincipalKind
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

TEST = "flow.test"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # as a flow id: also a safe folder name
KEEP_RUNS = 20
# (flow text, sample record, called with each scenario's result as it finishes) → every result;
# a result is {"scenario": name, "passed": bool, "detail": text}.
Tester = Callable[[str, dict[str, Any], Callable[[dict[str, Any]], None]], list[dict[str, Any]]]


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the run itself could not go on (e.g. no test target); the flow counts as failed

    @property
    def finished(self) -> bool:
        return self not in (RunState.QUEUED, RunState.RUNNING)


@dataclass(frozen=True, slots=True, kw_only=True)
class TestRun:
    run_id: str
    flow_id: str
    version: int
    state: RunState
    requested_by: str
    requested_at: str
    sample: dict[str, Any]
    total: int
    results: tuple[dict[str, Any], ...] = field(default=())
    error: str | None = None
    finished_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "flow": self.flow_id,
            "version": self.version,
            "state": self.state.value,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at,
            "sample": self.sample,
            "total": self.total,
            "results": list(self.results),
            "error": self.error,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestRun:
        return cls(
            run_id=data["run"],
            flow_id=data["flow"],
            version=int(data["version"]),
            state=RunState(data["state"]),
            requested_by=data["requested_by"],
            requested_at=data["requested_at"],
            sample=dict(data.get("sample") or {}),
            total=int(data["total"]),
            results=tuple(data.get("results") or ()),
            error=data.get("error"),
            finished_at=data.get("finished_at"),
        )


class FlowTestRuns:
    """Start a flow test in the background, follow it, and read the last one of a flow."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, folder: Path, tester: Tester, scenarios: int
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._folder = folder
        self._tester = tester
        self._scenarios = scenarios

    def start(self, principal: Principal, flow_id: str, sample: dict[str, Any]) -> TestRun:
        """Queue a run of the flow's fault scenarios with ``sample`` (one valid source record)."""
        principal.require("flow:operate")
        if not sample:
            raise InvalidInput("sample: expected one source record as a JSON object")
        now = self._clock.now()
        with self._uow() as uow:
            deployed = uow.flows.get(flow_id)
            if deployed is None:
                raise NotFound("no flow with id {flow}", flow=flow_id)
            run = TestRun(
                run_id=f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}",
                flow_id=flow_id,
                version=deployed.version,
                state=RunState.QUEUED,
                requested_by=principal.actor,
                requested_at=now.isoformat(),
                sample=dict(sample),
                total=self._scenarios,
            )
            uow.jobs.enqueue(
                NewJob(
                    kind=TEST,
                    payload={"flow": flow_id, "run": run.run_id},
                    run_at=now,
                    dedupe_key=f"flow-test:{flow_id}:{run.run_id}",
                    policy=RetryPolicy(max_attempts=1),  # a report, not a delivery: never run twice
                ),
                now,
            )
            # Written before the commit: a worker may claim the job the moment it is committed.
            self._write(run)
            uow.commit()
        self._prune(flow_id)
        return run

    def get(self, principal: Principal, flow_id: str, run_id: str) -> TestRun:
        principal.require("flow:read")
        found = self._read(flow_id, run_id)
        if found is None:
            raise NotFound("no test run {run} of flow {flow}", run=run_id, flow=flow_id)
        return found

    def latest(self, principal: Principal, flow_id: str) -> TestRun | None:
        """The flow's most recent run (from the web; a CLI run leaves only the test status)."""
        principal.require("flow:read")
        runs = self._runs(flow_id)
        return self._read(flow_id, runs[-1].stem) if runs else None

    def handle(self, job: Job, uow: UnitOfWork) -> None:
        """The ``flow.test`` job handler: run every scenario, record the flow's test status."""
        flow_id, run_id = str(job.payload["flow"]), str(job.payload["run"])
        run = self._read(flow_id, run_id)
        deployed = uow.flows.get(flow_id)
        if run is None or run.state.finished or deployed is None:
            return  # pruned, already done by an earlier claim, or the flow is gone
        run = replace(run, state=RunState.RUNNING, version=deployed.version)
        self._write(run)
        results: list[dict[str, Any]] = []

        def progress(result: dict[str, Any]) -> None:
            results.append(result)
            self._write(replace(run, results=tuple(results)))

        try:
            final = tuple(self._tester(deployed.text, run.sample, progress))
        except Exception as error:  # the run's own failure is its result, not a job incident
            text = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            finished = replace(run, state=RunState.ERROR, results=tuple(results), error=text)
        else:
            passed = bool(final) and all(r.get("passed") for r in final)
            finished = replace(run, state=RunState.PASSED if passed else RunState.FAILED, results=final)
        now = self._clock.now()
        status = TestStatus.PASSED if finished.state is RunState.PASSED else TestStatus.FAILED
        uow.flows.record_test(flow_id, status, now)
        requester = Principal(actor=run.requested_by, kind=PrincipalKind.USER)
        after = {"status": status.value, "run": run_id, "version": run.version}
        audit.record(uow, self._clock, requester, "flow.test", "flow", flow_id, after=after)
        self._write(replace(finished, finished_at=now.isoformat()))

    # -- the run files -----------------------------------------------------------------------------

    def _dir(self, flow_id: str) -> Path:
        if not _SAFE_ID.match(flow_id):  # the id names a folder: never a path
            raise NotFound("no flow with id {flow}", flow=flow_id)
        return self._folder / flow_id

    def _runs(self, flow_id: str) -> list[Path]:
        folder = self._dir(flow_id)
        return sorted(folder.glob("*.json")) if folder.is_dir() else []

    def _read(self, flow_id: str, run_id: str) -> TestRun | None:
        if not run_id.replace("-", "").isalnum():
            return None
        path = self._dir(flow_id) / f"{run_id}.json"
        try:
            return TestRun.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def _write(self, run: TestRun) -> None:
        folder = self._dir(run.flow_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{run.run_id}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(run.as_dict(), ensure_ascii=False), encoding="utf-8")
        temporary.replace(path)  # a poll never reads half a file

    def _prune(self, flow_id: str) -> None:
        for old in self._runs(flow_id)[:-KEEP_RUNS]:
            old.unlink(missing_ok=True)
