"""Use cases of process instances: start, look, correlate messages, fix and migrate.

Permissions: ``instance:start`` to start, ``instance:read`` to look, ``instance:operate`` (admins) to
edit variables, terminate or migrate. Every state change through here is audited; engine steps
run by jobs are recorded in the engine history instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from isthmus.engine import (
    EngineIncident,
    HistoryLine,
    Interpreter,
    Notification,
    ProcessInstance,
    TaskQuery,
    UserTask,
    load_state,
)
from isthmus.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from isthmus.jobs import Job, JobState
from isthmus.security import Principal, mask_personal_data
from isthmus.services import audit
from isthmus.services.engine_steps import SERVICE_JOB, TIMER_JOB, Stepper
from isthmus.services.messages import START_TIMER_JOB, MessageService, PublishResult, StartEvents, StepWatch
from isthmus.services.ports import Clock, JobHandler, UnitOfWorkFactory
from isthmus.services.service_tasks import InlineServices, ServiceHandlers, ServiceJob, TimerJob

OBJECT = "process_instance"


@dataclass(frozen=True, slots=True)
class InstanceView:
    """What ``isthmus instance show`` and the instance page show."""

    instance: ProcessInstance
    state: str  # active | completed | terminated | incident
    completed_activities: list[str]
    active_activities: list[str]
    variables: dict[str, Any]
    tasks: list[UserTask]
    history: list[HistoryLine]
    incidents: list[Job]
    notifications: list[Notification] = field(default_factory=list)  # escalations (isthmus:escalate)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.instance.summary(),
            "state": self.state,
            "completed_activities": self.completed_activities,
            "active_activities": self.active_activities,
            "variables": self.variables,
            "tasks": [t.as_dict() for t in self.tasks],
            "history": [h.as_dict() for h in self.history],
            "incidents": [j.as_dict() | {"last_error": j.last_error} for j in self.incidents],
            "notifications": [n.as_dict() for n in self.notifications],
        }


@dataclass(frozen=True, slots=True)
class InstanceDiagram:
    """What the instance page paints on the BPMN diagram of the instance's version."""

    xml: bytes
    active: list[str]  # node ids with a token (a node with two tokens is listed twice)
    completed: list[str]  # node ids completed, in order
    taken_flows: list[str]  # sequence flows a token went along
    incidents: list[str]  # node ids whose job is an incident

    def marks(self) -> dict[str, list[str]]:
        return {
            "active": self.active,
            "completed": self.completed,
            "flows": self.taken_flows,
            "incidents": self.incidents,
        }


class EngineService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, stepper: Stepper, handlers: ServiceHandlers
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self.stepper = stepper
        self.handlers = handlers
        if not any(isinstance(h, StepWatch) for h in stepper.hooks):
            stepper.hooks.append(StepWatch(clock))
        if stepper.inline is None:  # service tasks with an inline handler run in the step itself
            stepper.inline = InlineServices(handlers)
        self.messages = MessageService(uow_factory, clock, stepper)
        self.starts = StartEvents(uow_factory, clock, stepper)

    def job_handlers(self) -> dict[str, JobHandler]:
        return {
            SERVICE_JOB: ServiceJob(self.stepper, self.handlers),
            TIMER_JOB: TimerJob(self.stepper),
            START_TIMER_JOB: self.starts.fire,
        }

    def publish(
        self,
        principal: Principal,
        name: str,
        correlation_key: Any = None,
        variables: Mapping[str, Any] | None = None,
        *,
        message_id: str | None = None,
    ) -> PublishResult:
        """Correlate message ``name`` by key (see :class:`~isthmus.services.messages.MessageService`)."""
        return self.messages.publish(principal, name, correlation_key, variables, message_id=message_id)

    def start(
        self,
        principal: Principal,
        key: str,
        variables: Mapping[str, Any] | None = None,
        *,
        business_key: str | None = None,
        version: int | None = None,
    ) -> ProcessInstance:
        """Start an instance of the latest (or the given) version of process ``key``."""
        principal.require("instance:start")
        with self._uow() as uow:
            record = self.stepper.start(
                uow,
                key,
                dict(variables or {}),
                actor=principal.actor,
                business_key=business_key,
                version=version,
            )
            audit.record(
                uow, self._clock, principal, "instance.start", OBJECT, record.id, after=record.summary()
            )
            uow.commit()
        return record

    def start_many(
        self, principal: Principal, key: str, batch: list[tuple[dict[str, Any], str | None]]
    ) -> list[ProcessInstance]:
        """Start several instances in one transaction (one commit for the batch)."""
        principal.require("instance:start")
        with self._uow() as uow:
            started = [
                self.stepper.start(uow, key, variables, actor=principal.actor, business_key=business_key)
                for variables, business_key in batch
            ]
            uow.commit()
        return started

    def show(self, principal: Principal, instance_id: str) -> InstanceView:
        principal.require("instance:read")
        with self._uow() as uow:
            record = uow.instances.get(instance_id)
            if record is None:
                raise NotFound("no process instance {id}", id=instance_id)
            history = uow.history.for_instance(instance_id)
            tasks = uow.user_tasks.find(TaskQuery(instance_id=instance_id, include_closed=True))
            incidents = [j for j in uow.jobs.list(JobState.INCIDENT, 10_000) if j.serial_key == instance_id]
            notifications = uow.notifications.for_instance(instance_id)
        state = load_state(record.state)
        status = "incident" if incidents and record.status == "active" else record.status
        variables = (
            dict(state.variables) if _may_operate(principal) else mask_personal_data(dict(state.variables))
        )
        return InstanceView(
            instance=record,
            state=status,
            completed_activities=list(state.completed),
            active_activities=[t.node for t in state.tokens],
            variables=variables,
            tasks=tasks,
            history=history,
            incidents=incidents,
            notifications=notifications,
        )

    def diagram(self, principal: Principal, instance_id: str) -> InstanceDiagram:
        """The BPMN XML of the instance's version and what to highlight on it: active tokens,
        completed nodes, the sequence flows taken (from the tokens' arrival flows and every flow
        between two nodes the instance completed or reached) and the nodes with an incident."""
        principal.require("instance:read")
        with self._uow() as uow:
            record = _get(uow.instances.get(instance_id), instance_id)
            d = self.stepper.definitions.get(uow, record.definition_key, record.definition_version)
            xml = self.stepper.definitions.source.get(uow, record.definition_key, record.definition_version)
            incidents = [j for j in uow.jobs.list(JobState.INCIDENT, 10_000) if j.serial_key == instance_id]
        state = load_state(record.state)
        done = set(state.completed)
        reached = done | {t.node for t in state.tokens}
        taken = {t.flow for t in state.tokens if t.flow}
        for flow in d.flows.values():
            if flow.source in done and flow.target in reached:
                taken.add(flow.id)
        return InstanceDiagram(
            xml=xml or b"",
            active=[t.node for t in state.tokens],
            completed=list(state.completed),
            taken_flows=sorted(taken),
            incidents=sorted({str(j.payload.get("n")) for j in incidents if j.payload.get("n")}),
        )

    def list(
        self, principal: Principal, *, status: str | None = None, key: str | None = None, limit: int = 100
    ) -> list[ProcessInstance]:
        principal.require("instance:read")
        with self._uow() as uow:
            return uow.instances.list(status=status, definition_key=key, limit=limit)

    def correlate(
        self, principal: Principal, instance_id: str, message: str, variables: Mapping[str, Any] | None = None
    ) -> None:
        """Deliver message ``message`` to instance ``instance_id``; ``Conflict`` when nothing waits for it."""
        principal.require("instance:start")
        found: list[bool] = []
        with self._uow() as uow:
            self.stepper.step(
                uow,
                instance_id,
                lambda w: found.append(w.correlate(message, dict(variables or {}))),
                actor=principal.actor,
            )
            if not found or not found[0]:
                raise Conflict(
                    "instance {id} does not wait for message {message}", id=instance_id, message=message
                )
            audit.record(
                uow,
                self._clock,
                principal,
                "instance.message",
                OBJECT,
                instance_id,
                after={"message": message},
            )
            uow.commit()

    def signal(self, principal: Principal, name: str, variables: Mapping[str, Any] | None = None) -> int:
        """Broadcast signal ``name`` to every active instance; how many caught it."""
        principal.require("instance:start")
        caught = 0
        with self._uow() as uow:
            for record in uow.instances.list(status="active", limit=1_000_000):
                hits: list[bool] = []
                self.stepper.step(
                    uow, record.id, _signal(hits, name, dict(variables or {})), actor=principal.actor
                )
                caught += bool(hits and hits[0])
            audit.record(
                uow, self._clock, principal, "instance.signal", OBJECT, name, after={"caught": caught}
            )
            uow.commit()
        return caught

    def set_variables(self, principal: Principal, instance_id: str, variables: Mapping[str, Any]) -> None:
        """An operator fixes the data of an instance (before retrying its incident)."""
        principal.require("instance:operate")
        with self._uow() as uow:
            record = _get(uow.instances.get(instance_id), instance_id)
            state = load_state(record.state)
            before = {k: state.variables.get(k) for k in variables}
            state.variables.update(variables)
            uow.instances.save(record.with_state(state.dump(), record.status, self._clock.now()))
            audit.record(
                uow,
                self._clock,
                principal,
                "instance.variables",
                OBJECT,
                instance_id,
                before=before,
                after=dict(variables),
            )
            uow.commit()

    def terminate(self, principal: Principal, instance_id: str) -> None:
        principal.require("instance:operate")
        with self._uow() as uow:
            self.stepper.step(uow, instance_id, lambda w: w.terminate(), actor=principal.actor)
            audit.record(uow, self._clock, principal, "instance.terminate", OBJECT, instance_id)
            uow.commit()

    def migrate(
        self, principal: Principal, instance_id: str, version: int, mapping: Mapping[str, str] | None = None
    ) -> ProcessInstance:
        """Move an instance in a wait state to ``version`` of its process; ``mapping`` renames node ids
        (old → new). Refused when a token sits on a node the new version lacks."""
        principal.require("instance:operate")
        renames = dict(mapping or {})
        with self._uow() as uow:
            record = _get(uow.instances.get(instance_id), instance_id)
            target = self.stepper.definitions.get(uow, record.definition_key, version)
            state = load_state(record.state)
            for token in state.tokens:
                token.node = renames.get(token.node, token.node)
                if token.node not in target.nodes:
                    raise InvalidInput(
                        "cannot migrate {id}: version {version} has no node {node}",
                        id=instance_id,
                        version=version,
                        node=token.node,
                    )
            for scope in state.scopes.values():
                scope.node = renames.get(scope.node, scope.node)
            for task in uow.user_tasks.find(TaskQuery(instance_id=instance_id)):
                if task.activity_id in renames:
                    uow.user_tasks.update(_renamed(task, renames[task.activity_id]))
            state.definition_version = version
            migrated = ProcessInstance(
                **{**_fields(record), "definition_version": version, "state": state.dump()}
            )
            saved = uow.instances.save(migrated)
            for hook in self.stepper.hooks:
                if isinstance(hook, StepWatch):
                    hook.sync(uow, saved, Interpreter(target, state, now=self._clock.now()))
            audit.record(
                uow,
                self._clock,
                principal,
                "instance.migrate",
                OBJECT,
                instance_id,
                before={"version": record.definition_version},
                after={"version": version, "mapping": renames},
            )
            uow.commit()
        return saved


def _signal(hits: list[bool], name: str, variables: dict[str, Any]) -> Callable[[Interpreter], object]:
    return lambda w: hits.append(w.signal(name, variables))


def _may_operate(principal: Principal) -> bool:
    """Operators see variables as stored; everyone else sees personal data masked (PIPL)."""
    try:
        principal.require("instance:operate")
    except PermissionDenied:
        return False
    return True


def _get(record: ProcessInstance | None, instance_id: str) -> ProcessInstance:
    if record is None:
        raise NotFound("no process instance {id}", id=instance_id)
    return record


def _fields(record: ProcessInstance) -> dict[str, Any]:
    return {name: getattr(record, name) for name in ProcessInstance.__dataclass_fields__}


def _renamed(task: UserTask, activity_id: str) -> UserTask:
    from dataclasses import replace

    return replace(task, activity_id=activity_id)


__all__ = ["EngineIncident", "EngineService", "InstanceDiagram", "InstanceView", "PublishResult"]
