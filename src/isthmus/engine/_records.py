"""What storage keeps of the engine: instances (state document + columns to query), user tasks
(the inbox) and history lines in the event-log schema of DESIGN.md."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

#: The ``system`` column of every engine history line (the event-log schema's source system).
HISTORY_SYSTEM = "isthmus"


class TaskState(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessInstance:
    """One stored instance. ``state`` is :meth:`InstanceState.dump` output; ``revision`` is the
    optimistic lock (a save with a stale revision is refused)."""

    id: str
    business_key: str | None
    definition_key: str
    definition_version: int
    status: str
    state: dict[str, Any]
    schema_version: int
    revision: int = 0
    parent_id: str | None = None
    parent_token: int | None = None
    started_by: str = ""
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None

    def with_state(self, state: dict[str, Any], status: str, now: datetime) -> ProcessInstance:
        ended = now if status in ("completed", "terminated") else None
        return replace(self, state=state, status=status, updated_at=now, ended_at=ended)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "business_key": self.business_key,
            "process_key": self.definition_key,
            "version": self.definition_version,
            "state": self.status,
            "started_by": self.started_by,
            "parent_id": self.parent_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTask:
    """An inbox entry for one waiting token. ``form`` is the list of form fields (JSON);
    ``initiator`` is who started the instance (four-eyes: they may not complete it)."""

    id: int = 0
    instance_id: str
    token: int
    activation: int
    activity_id: str
    name: str
    process_key: str = ""
    business_key: str | None = None
    candidate_groups: tuple[str, ...] = ()
    candidate_users: tuple[str, ...] = ()
    assignee: str | None = None
    due: datetime | None = None
    form: tuple[dict[str, Any], ...] = ()
    four_eyes: bool = False
    initiator: str | None = None
    state: TaskState = TaskState.OPEN
    comments: tuple[dict[str, Any], ...] = ()
    attachments: tuple[dict[str, Any], ...] = ()
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None

    def is_overdue(self, now: datetime) -> bool:
        return self.state is TaskState.OPEN and self.due is not None and self.due < now

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance_id": self.instance_id,
            "activity_id": self.activity_id,
            "name": self.name,
            "process_key": self.process_key,
            "business_key": self.business_key,
            "candidate_groups": list(self.candidate_groups),
            "candidate_users": list(self.candidate_users),
            "assignee": self.assignee,
            "due": self.due.isoformat() if self.due else None,
            "form": list(self.form),
            "four_eyes": self.four_eyes,
            "state": self.state.value,
            "comments": list(self.comments),
            "attachments": list(self.attachments),
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "completed_by": self.completed_by,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryLine:
    """One line of the event log: ``case_id`` is the business key (else the instance id)."""

    case_id: str
    activity: str
    timestamp: datetime
    lifecycle: str
    resource: str
    instance_id: str
    node_id: str
    system: str = HISTORY_SYSTEM
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "activity": self.activity,
            "timestamp": self.timestamp.isoformat(),
            "lifecycle": self.lifecycle,
            "resource": self.resource,
            "system": self.system,
            "instance_id": self.instance_id,
            "node_id": self.node_id,
            **self.attributes,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskQuery:
    """Open tasks visible to someone: assigned to ``user``, or unassigned with ``user`` or one of
    ``groups`` among the candidates. None of the filters set: every open task."""

    instance_id: str | None = None
    user: str | None = None
    groups: frozenset[str] = frozenset()
    assigned_only: bool = False
    include_closed: bool = False
    limit: int = 200
