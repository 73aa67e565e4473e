"""What one engine step asks the world to do, returned by the interpreter and carried out by the
service in the same transaction as the new state (the outbox pattern)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from isthmus.errors import IsthmusError, Terminal


class EngineIncident(IsthmusError, Terminal):
    """The model cannot go on with these variables (no gateway flow matched, an unhandled BPMN
    error …): the step is refused; run from a job, it becomes an incident an operator can fix."""

    code = "engine_incident"


@dataclass(frozen=True, slots=True)
class TaskOpened:
    """A user task (or a wait for a person) to put in the inbox."""

    token: int
    node: str
    activation: int


@dataclass(frozen=True, slots=True)
class TaskClosed:
    """The task of ``token`` is done or cancelled (boundary event, terminate)."""

    token: int
    node: str
    cancelled: bool


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """Run the service (or send) task binding in a job; the job's idempotency key is
    ``<instance>:<node>:<activation>``."""

    token: int
    node: str
    activation: int


@dataclass(frozen=True, slots=True)
class TimerSet:
    """A timer job due at ``due``; a fired timer whose token moved on is ignored (stale)."""

    token: int
    node: str
    activation: int
    due: datetime
    fired: int = 0


@dataclass(frozen=True, slots=True)
class CallStarted:
    token: int
    node: str
    activation: int
    process: str
    binding: str
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallCancelled:
    token: int


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One event-log line: ``lifecycle`` is ``start`` or ``complete``."""

    node: str
    name: str
    lifecycle: str
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class Ended:
    """The instance completed (or was terminated); a calling instance continues."""

    status: str


def _setters(cls: type, *names: str) -> tuple[Any, ...]:
    """The slot descriptors' setters of ``cls``'s fields (they bypass a frozen ``__setattr__``)."""
    return tuple(cls.__dict__[name].__set__ for name in names)


def _quick_inits() -> None:
    """Frozen dataclasses set each field through ``object.__setattr__`` (a global and an attribute
    lookup per field): for the effects made at every wait of every instance, set the slots
    through their descriptors instead. Same class, fields, equality, hash and immutability."""
    set_token, set_node, set_activation = _setters(TaskOpened, "token", "node", "activation")

    def task_opened(self: TaskOpened, token: int, node: str, activation: int) -> None:
        set_token(self, token)
        set_node(self, node)
        set_activation(self, activation)

    call_token, call_node, call_activation = _setters(ServiceCall, "token", "node", "activation")

    def service_call(self: ServiceCall, token: int, node: str, activation: int) -> None:
        call_token(self, token)
        call_node(self, node)
        call_activation(self, activation)

    closed_token, closed_node, closed_cancelled = _setters(TaskClosed, "token", "node", "cancelled")

    def task_closed(self: TaskClosed, token: int, node: str, cancelled: bool) -> None:
        closed_token(self, token)
        closed_node(self, node)
        closed_cancelled(self, cancelled)

    timer_setters = _setters(TimerSet, "token", "node", "activation", "due", "fired")

    def timer_set(
        self: TimerSet, token: int, node: str, activation: int, due: datetime, fired: int = 0
    ) -> None:
        set_token, set_node, set_activation, set_due, set_fired = timer_setters
        set_token(self, token)
        set_node(self, node)
        set_activation(self, activation)
        set_due(self, due)
        set_fired(self, fired)

    (set_status,) = _setters(Ended, "status")

    def ended(self: Ended, status: str) -> None:
        set_status(self, status)

    inits: tuple[tuple[type, Any], ...] = (
        (TaskOpened, task_opened),
        (ServiceCall, service_call),
        (TaskClosed, task_closed),
        (TimerSet, timer_set),
        (Ended, ended),
    )
    for cls, init in inits:
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = init  # type: ignore[misc]


_quick_inits()

Effect = TaskOpened | TaskClosed | ServiceCall | TimerSet | CallStarted | CallCancelled | HistoryEvent | Ended


class BpmnError(Exception):
    """Raised by a service handler to throw a BPMN error with ``code``: caught by an error boundary
    event or an error event subprocess, never retried."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
