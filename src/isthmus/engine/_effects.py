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


Effect = TaskOpened | TaskClosed | ServiceCall | TimerSet | CallStarted | CallCancelled | HistoryEvent | Ended


class BpmnError(Exception):
    """Raised by a service handler to throw a BPMN error with ``code``: caught by an error boundary
    event or an error event subprocess, never retried."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
