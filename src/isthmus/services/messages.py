"""Message correlation by key, process-level message and timer start events, escalation rules.

* **Subscriptions** follow the state: after every engine step :class:`StepWatch` writes the
  difference between the messages the instance now waits for and its stored subscription rows, in
  the step's transaction. :meth:`MessageService.publish` finds the waiting instances through the
  ``(message name, correlation key)`` index, never by scanning instances.
* **Start events** of the latest deployed version: :class:`StartEvents` replaces the message start
  subscriptions of a process and enqueues the jobs of its timer starts when a version is deployed;
  a timer start job of an older version finds a newer one deployed and ends without effect.
* **Escalations**: a boundary timer with ``isthmus:escalate`` reassigns the open task of its
  activity and/or writes notifications (visible in the inbox) when it fires.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from isthmus.engine import (
    Definition,
    HistoryEvent,
    Interpreter,
    MessageSubscription,
    Notification,
    ProcessInstance,
    TaskQuery,
    deliver_message,
    has_messages,
    key_text,
    parse_escalation,
    process_starts,
    start_at,
    start_timer_due,
    subscriptions,
)
from isthmus.errors import Conflict, InvalidInput
from isthmus.jobs import Job, NewJob
from isthmus.models import DeployedProcess, EventKind, NodeKind
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.engine_steps import Stepper
from isthmus.services.models import Deployment, ModelService
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("isthmus.engine")

START_TIMER_JOB = "engine.start_timer"
OBJECT = "message"
SYSTEM_ACTOR = "system"


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Which instances a published message reached, and which it started."""

    correlated: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"correlated": self.correlated, "started": self.started, "duplicate": self.duplicate}


# --- after every step ----------------------------------------------------------------------------


class StepWatch:
    """The step hook: keeps subscription rows equal to the waits, carries out escalations."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._with_messages: dict[tuple[str, int], bool] = {}
        self._with_escalations: dict[tuple[str, int], frozenset[str]] = {}

    def __call__(self, uow: UnitOfWork, record: ProcessInstance, d: Definition, walk: Interpreter) -> None:
        slot = (d.key, d.version)
        messages = self._with_messages.get(slot)
        if messages is None:
            messages = self._with_messages[slot] = has_messages(d)
        if messages:
            self.sync(uow, record, walk)
        escalating = self._with_escalations.get(slot)
        if escalating is None:
            escalating = self._with_escalations[slot] = frozenset(
                n.id for n in d.nodes.values() if n.kind is NodeKind.BOUNDARY_EVENT and n.props.escalate
            )
        if escalating:
            for effect in walk.effects:
                if (
                    isinstance(effect, HistoryEvent)
                    and effect.lifecycle == "start"
                    and effect.node in escalating
                ):
                    escalate(uow, record, d, effect.node, self._clock.now())

    def sync(self, uow: UnitOfWork, record: ProcessInstance, walk: Interpreter) -> None:
        now = self._clock.now()
        wanted = {
            s.slot: s
            for s in subscriptions(walk, instance_id=record.id, business_key=record.business_key, now=now)
        }
        stored = uow.messages.for_instance(record.id)
        uow.messages.remove([s.id for s in stored if s.slot not in wanted])
        have = {s.slot for s in stored}
        uow.messages.add([s for slot, s in wanted.items() if slot not in have])


def escalate(uow: UnitOfWork, record: ProcessInstance, d: Definition, node_id: str, now: datetime) -> None:
    """Carry out the ``isthmus:escalate`` rules of boundary ``node_id`` that just fired."""
    boundary = d.node(node_id)
    try:
        rules = parse_escalation(boundary.props.escalate or "")
    except ValueError as error:  # deployment validation refuses these; an old version may hold one
        log.warning("escalation %s of %s: %s", node_id, record.id, error)
        return
    activity = d.node(boundary.attached_to) if boundary.attached_to else None
    tasks = [
        t
        for t in uow.user_tasks.find(TaskQuery(instance_id=record.id))
        if activity is not None and t.activity_id == activity.id
    ]
    name = activity.label if activity is not None else node_id
    for rule in rules:
        if rule.action == "reassign":
            for index, task in enumerate(tasks):
                note = {
                    "at": now.isoformat(),
                    "by": SYSTEM_ACTOR,
                    "text": f"escalated: reassigned to {rule.kind} {', '.join(rule.targets)}",
                }
                if rule.kind == "user":
                    changed = replace(task, assignee=rule.targets[0])
                else:
                    changed = replace(task, assignee=None, candidate_groups=rule.targets, candidate_users=())
                tasks[index] = replace(changed, comments=(*task.comments, note))
                uow.user_tasks.update(tasks[index])
            continue
        for target in rule.targets:
            uow.notifications.add(
                Notification(
                    instance_id=record.id,
                    task_id=tasks[0].id if tasks else None,
                    node_id=activity.id if activity is not None else node_id,
                    recipient_kind=rule.kind,
                    recipient=target,
                    text=f"{name} ({record.business_key or record.id}) is late",
                    created_at=now,
                )
            )


# --- start events --------------------------------------------------------------------------------


class StartEvents:
    """Message start subscriptions and timer start jobs of the latest deployed versions."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, stepper: Stepper) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._stepper = stepper

    def deployed(self, processes: tuple[DeployedProcess, ...]) -> None:
        """A deployment stored new versions: their start events replace the previous version's."""
        with self._uow() as uow:
            for deployed in processes:
                self.sync(uow, deployed.key, deployed.version, deployed.deployed_at)
            uow.commit()

    def sync(self, uow: UnitOfWork, key: str, version: int, deployed_at: datetime) -> None:
        d = self._stepper.definitions.get(uow, key, version)
        now = self._clock.now()
        uow.messages.replace_starts(
            key,
            [
                MessageSubscription(
                    message_name=d.ref_name(d.messages, node.event.ref if node.event else None) or node.id,
                    correlation_key=None,
                    instance_id=None,
                    token=0,
                    node_id=node.id,
                    activation=0,
                    process_key=key,
                    process_version=version,
                    created_at=now,
                )
                for node in process_starts(d, EventKind.MESSAGE)
            ],
        )
        for node in process_starts(d, EventKind.TIMER):
            due = start_timer_due(d, node, deployed_at=deployed_at, fired=0, previous=None)
            if due is not None:
                _enqueue_start_timer(uow, key, version, node.id, 0, due, deployed_at, now)

    def fire(self, job: Job, uow: UnitOfWork) -> None:
        """The ``engine.start_timer`` job: start an instance, schedule the next cycle."""
        p = job.payload
        latest = self._stepper.definitions.get(uow, p["k"])
        if latest.version != p["v"]:
            return  # a newer version was deployed: its own timers replace this one
        due = datetime.fromisoformat(p["d"])
        deployed_at = datetime.fromisoformat(p["at"])
        node_id, fired = p["n"], int(p["f"])
        self._stepper.start(
            uow,
            latest.key,
            {},
            actor=SYSTEM_ACTOR,
            version=latest.version,
            begin=lambda w: start_at(w, node_id, {}),
        )
        node = latest.node(node_id)
        following = start_timer_due(latest, node, deployed_at=deployed_at, fired=fired + 1, previous=due)
        if following is not None:
            _enqueue_start_timer(
                uow, latest.key, latest.version, node_id, fired + 1, following, deployed_at, self._clock.now()
            )


class StartingModelService(ModelService):
    """The model service of the running application: a deployment also makes the message and
    timer start events of the versions it names live (in a second transaction right after)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, starts: StartEvents) -> None:
        super().__init__(uow_factory, clock)
        self.starts = starts

    def deploy(self, principal: Principal, content: bytes, filename: str) -> Deployment:
        deployment = super().deploy(principal, content, filename)
        # Also when unchanged: the sync is idempotent (same rows, same job dedupe keys), so
        # deploying the same file again repairs a crash between the two transactions.
        self.starts.deployed(deployment.processes)
        return deployment


def _enqueue_start_timer(
    uow: UnitOfWork,
    key: str,
    version: int,
    node: str,
    fired: int,
    due: datetime,
    deployed_at: datetime,
    now: datetime,
) -> None:
    uow.jobs.enqueue(
        NewJob(
            kind=START_TIMER_JOB,
            payload={
                "k": key,
                "v": version,
                "n": node,
                "f": fired,
                "d": due.isoformat(),
                "at": deployed_at.isoformat(),
            },
            run_at=due,
            serial_key=f"start:{key}",
            dedupe_key=f"start-timer:{key}:{version}:{node}:{fired}",
        ),
        now,
    )


# --- publishing ----------------------------------------------------------------------------------


class MessageService:
    """``publish``: deliver a message to every instance waiting for it with the same correlation
    key (one wait per instance, the oldest) and start an instance of every process whose latest
    version has a matching message start event. With a ``message_id`` publishing is idempotent."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, stepper: Stepper) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._stepper = stepper

    def publish(
        self,
        principal: Principal,
        name: str,
        correlation_key: Any = None,
        variables: Mapping[str, Any] | None = None,
        *,
        message_id: str | None = None,
    ) -> PublishResult:
        principal.require("instance:start")
        if not name or not name.strip():
            raise InvalidInput("a message needs a name", field="name")
        key = key_text(correlation_key)
        values = dict(variables or {})
        with self._uow() as uow:
            if message_id is not None:
                earlier = uow.messages.published(message_id)
                if earlier is not None:
                    return PublishResult(
                        list(earlier.get("correlated", [])),  # type: ignore[call-overload]
                        list(earlier.get("started", [])),  # type: ignore[call-overload]
                        duplicate=True,
                    )
            result = self._publish(uow, principal, name, key, values)
            if message_id is not None and not uow.messages.remember(
                message_id, name, key, result.as_dict(), self._clock.now()
            ):
                # a concurrent publish of the same id committed first: undo this one's deliveries
                raise Conflict("message {id} was published concurrently; try again", id=message_id)
            audit.record(
                uow,
                self._clock,
                principal,
                "message.publish",
                OBJECT,
                name,
                after={"correlation_key": key, "message_id": message_id, **result.as_dict()},
            )
            uow.commit()
        return result

    def _publish(
        self, uow: UnitOfWork, principal: Principal, name: str, key: str | None, values: dict[str, Any]
    ) -> PublishResult:
        correlated: list[str] = []
        seen: set[str] = set()
        for sub in uow.messages.find(name, key):
            assert sub.instance_id is not None
            if sub.instance_id in seen:
                continue  # one delivery per instance: the oldest wait takes it
            if self._deliver(uow, principal, sub, values):
                seen.add(sub.instance_id)
                correlated.append(sub.instance_id)
        started: list[str] = []
        for sub in uow.messages.starts(name):  # the latest version of each process
            node_id = sub.node_id
            record = self._stepper.start(
                uow,
                sub.process_key,
                {},
                actor=principal.actor,
                business_key=key,
                version=sub.process_version,
                begin=lambda w, n=node_id: start_at(w, n, values),  # type: ignore[misc]
            )
            started.append(record.id)
        return PublishResult(correlated, started)

    def _deliver(
        self, uow: UnitOfWork, principal: Principal, sub: MessageSubscription, values: dict[str, Any]
    ) -> bool:
        hit: list[bool] = []
        assert sub.instance_id is not None
        self._stepper.step(
            uow, sub.instance_id, lambda w: hit.append(deliver_message(w, sub, values)), actor=principal.actor
        )
        return bool(hit and hit[0])


__all__ = [
    "START_TIMER_JOB",
    "MessageService",
    "PublishResult",
    "StartEvents",
    "StartingModelService",
    "StepWatch",
    "escalate",
]
