"""Running one engine step inside a unit of work: load the instance and its definition, run the
interpreter, and carry out its effects — new state, inbox rows, jobs, history — in the same
transaction (DESIGN.md: every state change and the jobs it causes commit together).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from isthmus.engine import (
    SCHEMA_VERSION,
    CallCancelled,
    CallStarted,
    Definition,
    Effect,
    Ended,
    EngineIncident,
    HistoryEvent,
    HistoryLine,
    InstanceState,
    Interpreter,
    ProcessInstance,
    ServiceCall,
    TaskClosed,
    TaskOpened,
    TaskState,
    TimerSet,
    UserTask,
    definition_of,
    load_state,
    parse_duration,
)
from isthmus.errors import NotFound
from isthmus.jobs import JobState, NewJob, RetryPolicy
from isthmus.models import NodeSpec, parse_bpmn
from isthmus.services.jobs import settle
from isthmus.services.ports import Clock, UnitOfWork

log = logging.getLogger("isthmus.engine")

SERVICE_JOB = "engine.service"
TIMER_JOB = "engine.timer"
NOTIFY_JOB = "engine.notify"
MAX_ERROR = 4000  # characters of an error kept on a job (as the job queue keeps them)


class ProcessSource(Protocol):
    """Where deployed BPMN comes from (the models' deployments)."""

    def latest(self, uow: UnitOfWork, key: str) -> tuple[int, bytes] | None:
        """The newest deployed version of process ``key`` and its BPMN XML."""

    def get(self, uow: UnitOfWork, key: str, version: int) -> bytes | None: ...


class StaticProcesses:
    """A :class:`ProcessSource` on a dict, for tests and embedding: ``add(key, xml)`` makes a new version."""

    def __init__(self) -> None:
        self._versions: dict[str, list[bytes]] = {}

    def add(self, key: str, xml: bytes) -> int:
        versions = self._versions.setdefault(key, [])
        versions.append(xml)
        return len(versions)

    def latest(self, uow: UnitOfWork, key: str) -> tuple[int, bytes] | None:
        versions = self._versions.get(key)
        return (len(versions), versions[-1]) if versions else None

    def get(self, uow: UnitOfWork, key: str, version: int) -> bytes | None:
        versions = self._versions.get(key, [])
        return versions[version - 1] if 0 < version <= len(versions) else None


class Definitions:
    """Parsed definitions by (key, version): deployed versions never change, so parse once."""

    def __init__(self, source: ProcessSource) -> None:
        self.source = source
        self._cache: dict[tuple[str, int], Definition] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _latest_seen(self, uow: UnitOfWork) -> dict[str, int]:
        """Latest versions looked up in this unit of work (a batch of starts asks once per key)."""
        local = self._local
        if getattr(local, "uow", None) is not uow:
            local.uow, local.latest = uow, {}
        seen: dict[str, int] = local.latest
        return seen

    def get(self, uow: UnitOfWork, key: str, version: int | None = None) -> Definition:
        if version is None:
            version = self._latest_seen(uow).get(key)
            if version is not None and (key, version) in self._cache:
                return self._cache[(key, version)]
            version = None
        if version is not None:
            cached = self._cache.get((key, version))
            if cached is not None:
                return cached
            xml = self.source.get(uow, key, version)
        else:
            latest = self.source.latest(uow, key)
            if latest is None:
                raise NotFound("no deployed process with key {key}", key=key)
            version, xml = latest
            self._latest_seen(uow)[key] = version
            cached = self._cache.get((key, version))
            if cached is not None:
                return cached
        if xml is None:
            raise NotFound("no version {version} of process {key}", key=key, version=version)
        definition = definition_of(key, version, parse_bpmn(xml, source=f"{key} v{version}"))
        with self._lock:
            self._cache[(key, version)] = definition
        return definition


DecisionFactory = Callable[[UnitOfWork], Any]
#: Runs right after a step's action, in its unit of work: the service tasks whose handler runs
#: inline (``service_tasks.InlineServices``). Returns the first attempts that failed, by (token,
#: activation): their ``ServiceCall`` effects become jobs that remember the attempt.
InlineHook = Callable[
    [UnitOfWork, ProcessInstance, Definition, Interpreter], "dict[tuple[int, int], BaseException] | None"
]
#: Runs after every step in its unit of work (message subscriptions, escalations): the stored
#: record, its definition and the interpreter that made the step (state and effects).
StepHook = Callable[[UnitOfWork, ProcessInstance, Definition, Interpreter], None]


class Stepper:
    """Runs steps: ``start`` a new instance, or ``step`` an existing one with an action."""

    def __init__(self, definitions: Definitions, clock: Clock, decisions: DecisionFactory) -> None:
        self.definitions = definitions
        self.clock = clock
        self._decisions = decisions
        self._local = threading.local()
        self.hooks: list[StepHook] = []
        self.inline: InlineHook | None = None

    def decisions(self, uow: UnitOfWork) -> Any:
        """The decision source of this unit of work: one per transaction, so what it looked up
        (the deployed decision a task names) serves every step of a batch."""
        local = self._local
        if getattr(local, "uow", None) is not uow:
            local.uow, local.decisions = uow, self._decisions(uow)
        return local.decisions

    def start(
        self,
        uow: UnitOfWork,
        key: str,
        variables: Mapping[str, Any],
        *,
        actor: str,
        business_key: str | None = None,
        version: int | None = None,
        parent: tuple[str, int] | None = None,
        begin: Callable[[Interpreter], object] | None = None,
    ) -> ProcessInstance:
        """``begin`` replaces the default first move (a token on the none start event)."""
        definition = self.definitions.get(uow, key, version)
        now = self.clock.now()
        state = InstanceState(definition.key, definition.version)
        record = ProcessInstance(
            id=str(uuid.uuid4()),
            business_key=business_key,
            definition_key=definition.key,
            definition_version=definition.version,
            status=state.status.value,
            state=state.dump(),
            schema_version=SCHEMA_VERSION,
            parent_id=parent[0] if parent else None,
            parent_token=parent[1] if parent else None,
            started_by=actor,
            created_at=now,
            updated_at=now,
        )
        uow.instances.add(record)
        return self._run(uow, record, definition, state, begin or (lambda w: w.start(variables)), actor)

    def step(
        self,
        uow: UnitOfWork,
        instance_id: str,
        action: Callable[[Interpreter], object],
        *,
        actor: str | None,
        loaded: ProcessInstance | None = None,
        state: InstanceState | None = None,
    ) -> ProcessInstance:
        """Run ``action`` on the instance (``loaded``: already read in this unit of work; ``state``:
        its state, loaded from it and not changed since)."""
        fresh = loaded is not None and loaded.id == instance_id
        record = loaded if fresh else uow.instances.get(instance_id)
        if record is None:
            raise NotFound("no process instance {id}", id=instance_id)
        if record.status != "active":
            raise EngineIncident("process instance {id} is {state}", id=instance_id, state=record.status)
        definition = self.definitions.get(uow, record.definition_key, record.definition_version)
        if state is None or not fresh:
            state = load_state(record.state)
        return self._run(uow, record, definition, state, action, actor)

    def _run(
        self,
        uow: UnitOfWork,
        record: ProcessInstance,
        definition: Definition,
        state: InstanceState,
        action: Callable[[Interpreter], object],
        actor: str | None,
    ) -> ProcessInstance:
        now = self.clock.now()
        walk = Interpreter(definition, state, now=now, decisions=self.decisions(uow), actor=actor)
        action(walk)
        failed = self.inline(uow, record, definition, walk) if self.inline is not None else None
        state = walk.state  # the inline hook may have put it back after a failure
        saved = uow.instances.save(_with_state(record, state, now))
        _Effects(self, uow, saved, definition, actor, now, failed).apply(walk.effects, state)
        for hook in self.hooks:
            hook(uow, saved, definition, walk)
        return saved


def _with_state(record: ProcessInstance, state: InstanceState, now: datetime) -> ProcessInstance:
    """``record.with_state(state.dump(), …)`` as one constructor call (``dataclasses.replace``
    inspects the fields at every call: a step's single largest bookkeeping cost)."""
    status = state.status.value
    return ProcessInstance(
        id=record.id,
        business_key=record.business_key,
        definition_key=record.definition_key,
        definition_version=record.definition_version,
        status=status,
        state=state.dump(),
        schema_version=record.schema_version,
        revision=record.revision,
        parent_id=record.parent_id,
        parent_token=record.parent_token,
        started_by=record.started_by,
        created_at=record.created_at,
        updated_at=now,
        ended_at=now if status in ("completed", "terminated") else None,
    )


_DURATIONS: dict[str, timedelta] = {}
_FORMS: dict[int, tuple[Any, tuple[dict[str, Any], ...]]] = {}  # id(form fields) → (them, as dicts)


def _form(fields: tuple[Any, ...]) -> tuple[dict[str, Any], ...]:
    """The form of a node's tasks, built once per parsed node: its tasks share one tuple."""
    found = _FORMS.get(id(fields))
    if found is None or found[0] is not fields:
        found = _FORMS[id(fields)] = (fields, tuple(f.as_dict() for f in fields))
    return found[1]  # SLA / due-date durations by their text: a few per model


class _Effects:
    """Carries out the effects of one step in the step's unit of work."""

    def __init__(
        self,
        stepper: Stepper,
        uow: UnitOfWork,
        record: ProcessInstance,
        definition: Definition,
        actor: str | None,
        now: datetime,
        failed: dict[tuple[int, int], BaseException] | None = None,
    ) -> None:
        self.s, self.uow, self.record, self.d, self.actor, self.now = (
            stepper,
            uow,
            record,
            definition,
            actor,
            now,
        )
        self.failed = failed  # first attempts of inline service tasks that failed in this step
        # one dict for every history line of the step (storage serialises it once)
        self.attributes = {"process_key": record.definition_key, "version": record.definition_version}

    def apply(self, effects: list[Effect], state: InstanceState) -> None:
        lines: list[HistoryLine] = []
        for effect in effects:
            if isinstance(effect, HistoryEvent):
                lines.append(self._line(effect))
            elif isinstance(effect, TaskOpened):
                self._open_task(effect)
            elif isinstance(effect, TaskClosed):
                closed = TaskState.CANCELLED if effect.cancelled else TaskState.COMPLETED
                by = None if effect.cancelled else self.actor
                self.uow.user_tasks.close(self.record.id, effect.token, closed, by, self.now)
            elif isinstance(effect, ServiceCall):
                self._service_job(effect)
            elif isinstance(effect, TimerSet):
                self._timer_job(effect)
        self.uow.history.append(lines)
        for effect in effects:
            if isinstance(effect, CallStarted):
                self._call(effect)
            elif isinstance(effect, CallCancelled):
                self._cancel_call(effect)
            elif isinstance(effect, Ended):
                self._ended(state)

    def _line(self, event: HistoryEvent) -> HistoryLine:
        return HistoryLine(
            case_id=self.record.business_key or self.record.id,
            activity=event.name,
            timestamp=self.now,
            lifecycle=event.lifecycle,
            resource=event.resource or "system",
            instance_id=self.record.id,
            node_id=event.node,
            attributes=self.attributes,
        )

    def _open_task(self, effect: TaskOpened) -> None:
        node = self.d.node(effect.node)
        props = node.props
        self.uow.user_tasks.add(
            UserTask(
                instance_id=self.record.id,
                token=effect.token,
                activation=effect.activation,
                activity_id=node.id,
                name=node.label,
                process_key=self.record.definition_key,
                business_key=self.record.business_key,
                candidate_groups=props.candidate_groups,
                candidate_users=props.candidate_users,
                assignee=props.assignee,
                due=self._due(node),
                form=_form(props.form_fields),
                four_eyes=props.four_eyes,
                initiator=self.record.started_by,
                created_at=self.now,
            )
        )

    def _due(self, node: NodeSpec) -> datetime | None:
        """``dueDate`` (an ISO duration or date-time) wins over the SLA (an ISO duration)."""
        text = node.props.due_date or node.props.sla
        if not text:
            return None
        text = text.strip()
        try:
            if text.startswith("P"):
                duration = _DURATIONS.get(text)
                if duration is None:
                    duration = _DURATIONS[text] = parse_duration(text)
                return self.now + duration
            due = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return due if due.tzinfo else None

    # No dedupe keys on engine jobs: a job is enqueued by the step whose commit creates it, so it
    # cannot be enqueued twice; a dedupe key would cost a lookup and a savepoint per job.
    def _service_job(self, effect: ServiceCall) -> None:
        node = self.d.node(effect.node)
        retries = node.props.retries
        policy = RetryPolicy() if retries is None else RetryPolicy(max_attempts=max(1, retries + 1))
        job = NewJob(
            kind=SERVICE_JOB,
            payload={"i": self.record.id, "t": effect.token, "n": effect.node, "a": effect.activation},
            serial_key=self.record.id,
            policy=policy,
        )
        error = self.failed.get((effect.token, effect.activation)) if self.failed else None
        if error is not None:
            job = self._attempted(job, error)
        self.uow.jobs.enqueue(job, self.now)

    def _attempted(self, job: NewJob, error: BaseException) -> NewJob:
        """The job of an inline service task whose first attempt failed with ``error``: attempt 2
        after the back-off, or an incident — what a job's runner makes of a failed attempt 1."""
        settled = settle(error, 1, job.policy.max_attempts, job.policy, self.now)
        if settled.run_at is not None:
            log.info(
                "service task %s of %s: attempt 1 failed, retry at %s: %s",
                job.payload["n"],
                self.record.id,
                settled.run_at.isoformat(),
                settled.message.splitlines()[0],
            )
            return replace(job, attempts=1, run_at=settled.run_at, last_error=settled.message[:MAX_ERROR])
        log.error(
            "service task %s of %s is an incident after 1 attempt(s): %s",
            job.payload["n"],
            self.record.id,
            settled.message.splitlines()[0],
        )
        return replace(job, attempts=1, state=JobState.INCIDENT, last_error=settled.message[:MAX_ERROR])

    def _timer_job(self, effect: TimerSet) -> None:
        payload = {
            "i": self.record.id,
            "t": effect.token,
            "n": effect.node,
            "a": effect.activation,
            "f": effect.fired,
            "d": effect.due.isoformat(),
        }
        self.uow.jobs.enqueue(
            NewJob(
                kind=TIMER_JOB,
                payload=payload,
                run_at=effect.due,
                serial_key=self.record.id,
            ),
            self.now,
        )

    def _call(self, effect: CallStarted) -> None:
        binding = effect.binding
        version: int | None = None
        if binding.startswith("version:"):
            version = int(binding.split(":", 1)[1])
        elif binding == "deployment" and effect.process == self.record.definition_key:
            version = self.record.definition_version
        self.s.start(
            self.uow,
            effect.process,
            effect.variables,
            actor=self.record.started_by,
            business_key=self.record.business_key,
            version=version,
            parent=(self.record.id, effect.token),
        )

    def _cancel_call(self, effect: CallCancelled) -> None:
        for child in self.uow.instances.children(self.record.id):
            if child.parent_token == effect.token and child.status == "active":
                self.s.step(self.uow, child.id, lambda w: w.terminate(), actor=self.actor)

    def _ended(self, state: InstanceState) -> None:
        if (
            self.record.parent_id is None
            or self.record.parent_token is None
            or state.status.value != "completed"
        ):
            return
        token = self.record.parent_token
        variables = dict(state.variables)
        self.s.step(self.uow, self.record.parent_id, lambda w: w.complete(token, variables), actor=self.actor)
