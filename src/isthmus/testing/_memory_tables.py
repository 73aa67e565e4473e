"""The rows of the in-memory database: one :class:`Tables` per committed state or open transaction.

Every value stored is immutable (frozen dataclasses, tuples, frozensets) or copied on the way in
and out (JSON payloads), so a transaction's working copy only needs *shallow* copies of the
containers: copying is cheap and a rolled-back transaction can never leak into the store.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from isthmus.catalog import NodeSla, Process, ProcessId
from isthmus.jobs import Job, JobId
from isthmus.mining import StoredLog
from isthmus.security import ApiToken, AuditRecord, User, UserId, WebSession
from isthmus.testing._memory_decisions import DecisionModelRows
from isthmus.testing._memory_integration import IntegrationRows
from isthmus.testing._memory_messages import MessageRows

if TYPE_CHECKING:
    from isthmus.testing._memory_engine import EngineRows
from isthmus.testing._memory_process_definitions import ProcessDefinitionRows

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    username: str
    address: str
    succeeded: bool
    at: datetime


@dataclass(slots=True, kw_only=True)
class Tables:
    """What SQL keeps in tables, including the id sequences (``next_*``)."""

    processes: dict[ProcessId, Process] = field(default_factory=dict)
    process_slas: dict[ProcessId, tuple[NodeSla, ...]] = field(default_factory=dict)
    users: dict[UserId, User] = field(default_factory=dict)
    sessions: dict[str, WebSession] = field(default_factory=dict)
    tokens: dict[int, ApiToken] = field(default_factory=dict)
    login_attempts: list[LoginAttempt] = field(default_factory=list)
    audit_log: list[AuditRecord] = field(default_factory=list)
    audit_head: tuple[int, str] | None = None
    jobs: dict[JobId, Job] = field(default_factory=dict)
    # ``jobs.locked_until`` of the SQL table: not part of :class:`Job`, so kept beside it.
    leases: dict[JobId, datetime] = field(default_factory=dict)
    decision_models: DecisionModelRows = field(default_factory=dict)
    engine: EngineRows = field(default_factory=lambda: _engine_rows())
    process_definitions: ProcessDefinitionRows = field(default_factory=dict)
    event_logs: dict[str, StoredLog] = field(default_factory=dict)
    integration: IntegrationRows = field(default_factory=IntegrationRows)
    messages: MessageRows = field(default_factory=MessageRows)
    next_user_id: int = 1
    next_token_id: int = 1
    next_job_id: int = 1

    def copy(self) -> Tables:
        """A working copy for one transaction (values are immutable, so shallow is enough)."""
        return Tables(
            processes=dict(self.processes),
            process_slas=dict(self.process_slas),
            users=dict(self.users),
            sessions=dict(self.sessions),
            tokens=dict(self.tokens),
            login_attempts=list(self.login_attempts),
            audit_log=list(self.audit_log),
            audit_head=self.audit_head,
            jobs=dict(self.jobs),
            leases=dict(self.leases),
            decision_models=dict(self.decision_models),
            engine=self.engine.copy(),
            process_definitions=dict(self.process_definitions),
            event_logs=dict(self.event_logs),
            integration=self.integration.copy(),
            messages=self.messages.copy(),
            next_user_id=self.next_user_id,
            next_token_id=self.next_token_id,
            next_job_id=self.next_job_id,
        )


def _engine_rows() -> EngineRows:
    # imported late: _memory_engine imports this module
    from isthmus.testing._memory_engine import EngineRows

    return EngineRows()


def utc(value: datetime) -> datetime:
    """What ``UtcDateTime`` does: refuse naive datetimes, store and return UTC."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; Isthmus stores UTC only")
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def json_value(value: Any) -> Any:
    """What a JSON column gives back: tuples become lists, unserialisable values raise TypeError."""
    return json.loads(json.dumps(value, ensure_ascii=False))


def fresh(value: _T) -> _T:
    """A private copy for the caller, as every SQL read builds new objects from rows."""
    return copy.deepcopy(value)
