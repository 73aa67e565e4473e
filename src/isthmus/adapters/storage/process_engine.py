"""The engine's tables on SQL: process instances (optimistic revision), user tasks, history."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.tables import engine_history, inserted_id, jobs, process_instances, user_tasks
from isthmus.engine import HistoryLine, ProcessInstance, TaskQuery, TaskState, UserTask
from isthmus.errors import Conflict

_i, _t, _h = process_instances, user_tasks, engine_history


def _instance(row: Any) -> ProcessInstance:
    return ProcessInstance(
        id=row.id,
        business_key=row.business_key,
        definition_key=row.definition_key,
        definition_version=row.definition_version,
        status=row.state,
        state=row.data,
        schema_version=row.schema_version,
        revision=row.revision,
        parent_id=row.parent_id,
        parent_token=row.parent_token,
        started_by=row.started_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
    )


def _instance_values(instance: ProcessInstance) -> dict[str, Any]:
    return {
        "business_key": instance.business_key,
        "definition_key": instance.definition_key,
        "definition_version": instance.definition_version,
        "state": instance.status,
        "data": instance.state,
        "schema_version": instance.schema_version,
        "parent_id": instance.parent_id,
        "parent_token": instance.parent_token,
        "started_by": instance.started_by,
        "created_at": instance.created_at,
        "updated_at": instance.updated_at,
        "ended_at": instance.ended_at,
    }


class SqlProcessInstanceRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, instance: ProcessInstance) -> None:
        try:
            with self._db.begin_nested():
                self._db.execute(
                    insert(_i).values(
                        id=instance.id, revision=instance.revision, **_instance_values(instance)
                    )
                )
        except IntegrityError as error:
            raise Conflict("process instance {id} exists", id=instance.id) from error

    def get(self, instance_id: str) -> ProcessInstance | None:
        row = self._db.execute(select(_i).where(_i.c.id == instance_id)).first()
        return _instance(row) if row else None

    def save(self, instance: ProcessInstance) -> ProcessInstance:
        result = self._db.execute(
            update(_i)
            .where(_i.c.id == instance.id, _i.c.revision == instance.revision)
            .values(revision=instance.revision + 1, **_instance_values(instance))
        )
        if result.rowcount != 1:
            raise Conflict("process instance {id} was changed by someone else; try again", id=instance.id)
        return ProcessInstance(**{**_as_kwargs(instance), "revision": instance.revision + 1})

    def list(
        self, *, status: str | None = None, definition_key: str | None = None, limit: int = 100
    ) -> builtins.list[ProcessInstance]:
        query = select(_i).order_by(_i.c.created_at.desc(), _i.c.id).limit(limit)
        if status is not None:
            query = query.where(_i.c.state == status)
        if definition_key is not None:
            query = query.where(_i.c.definition_key == definition_key)
        return [_instance(r) for r in self._db.execute(query).all()]

    def children(self, parent_id: str) -> builtins.list[ProcessInstance]:
        rows = self._db.execute(select(_i).where(_i.c.parent_id == parent_id).order_by(_i.c.created_at))
        return [_instance(r) for r in rows.all()]

    def incident_jobs(self, instance_id: str) -> int:
        query = select(func.count()).where(jobs.c.serial_key == instance_id, jobs.c.state == "incident")
        return int(self._db.execute(query).scalar_one())


def _as_kwargs(instance: ProcessInstance) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in ProcessInstance.__dataclass_fields__}


def _task(row: Any) -> UserTask:
    return UserTask(
        id=row.id,
        instance_id=row.instance_id,
        token=row.token,
        activation=row.activation,
        activity_id=row.activity_id,
        name=row.name,
        process_key=row.process_key,
        business_key=row.business_key,
        candidate_groups=tuple(row.candidate_groups),
        candidate_users=tuple(row.candidate_users),
        assignee=row.assignee,
        due=row.due,
        form=tuple(row.form),
        four_eyes=row.four_eyes,
        initiator=row.initiator,
        state=TaskState(row.state),
        comments=tuple(row.comments),
        attachments=tuple(row.attachments),
        created_at=row.created_at,
        completed_at=row.completed_at,
        completed_by=row.completed_by,
    )


def _task_values(task: UserTask) -> dict[str, Any]:
    return {
        "instance_id": task.instance_id,
        "token": task.token,
        "activation": task.activation,
        "activity_id": task.activity_id,
        "name": task.name,
        "process_key": task.process_key,
        "business_key": task.business_key,
        "candidate_groups": list(task.candidate_groups),
        "candidate_users": list(task.candidate_users),
        "assignee": task.assignee,
        "due": task.due,
        "form": list(task.form),
        "four_eyes": task.four_eyes,
        "initiator": task.initiator,
        "state": task.state.value,
        "comments": list(task.comments),
        "attachments": list(task.attachments),
        "created_at": task.created_at,
        "completed_at": task.completed_at,
        "completed_by": task.completed_by,
    }


class SqlUserTaskRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, task: UserTask) -> UserTask:
        new_id = inserted_id(self._db.execute(insert(_t).values(**_task_values(task))))
        return UserTask(**{**{n: getattr(task, n) for n in UserTask.__dataclass_fields__}, "id": new_id})

    def get(self, task_id: int) -> UserTask | None:
        row = self._db.execute(select(_t).where(_t.c.id == task_id)).first()
        return _task(row) if row else None

    def update(self, task: UserTask) -> None:
        self._db.execute(update(_t).where(_t.c.id == task.id).values(**_task_values(task)))

    def open_for_token(self, instance_id: str, token: int) -> UserTask | None:
        row = self._db.execute(
            select(_t).where(_t.c.instance_id == instance_id, _t.c.token == token, _t.c.state == "open")
        ).first()
        return _task(row) if row else None

    def close(self, instance_id: str, token: int, state: TaskState, by: str | None, at: datetime) -> None:
        self._db.execute(
            update(_t)
            .where(_t.c.instance_id == instance_id, _t.c.token == token, _t.c.state == "open")
            .values(state=state.value, completed_by=by, completed_at=at)
        )

    def find(self, query: TaskQuery) -> list[UserTask]:
        filtered = query.user is not None or bool(query.groups)
        sql = select(_t).order_by(_t.c.created_at, _t.c.id)
        if not filtered:
            sql = sql.limit(query.limit)  # visibility is decided below: limit after it
        if not query.include_closed:
            sql = sql.where(_t.c.state == "open")
        if query.instance_id is not None:
            sql = sql.where(_t.c.instance_id == query.instance_id)
        rows = [_task(r) for r in self._db.execute(sql).all()]
        if not filtered:
            return rows
        return [t for t in rows if _visible(t, query)][: query.limit]


def _visible(task: UserTask, query: TaskQuery) -> bool:
    if task.assignee is not None:
        return task.assignee == query.user
    if query.assigned_only:
        return False
    return (query.user is not None and query.user in task.candidate_users) or bool(
        query.groups.intersection(task.candidate_groups)
    )


class SqlEngineHistoryRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def append(self, lines: list[HistoryLine]) -> None:
        if not lines:
            return
        self._db.execute(
            insert(_h),
            [
                {
                    "case_id": line.case_id,
                    "activity": line.activity,
                    "timestamp": line.timestamp,
                    "lifecycle": line.lifecycle,
                    "resource": line.resource,
                    "system": line.system,
                    "instance_id": line.instance_id,
                    "node_id": line.node_id,
                    "attributes": line.attributes,
                }
                for line in lines
            ],
        )

    def for_instance(self, instance_id: str) -> list[HistoryLine]:
        rows = self._db.execute(select(_h).where(_h.c.instance_id == instance_id).order_by(_h.c.id)).all()
        return [_line(r) for r in rows]

    def all(self, limit: int = 100_000) -> list[HistoryLine]:
        return [_line(r) for r in self._db.execute(select(_h).order_by(_h.c.id).limit(limit)).all()]


def _line(row: Any) -> HistoryLine:
    return HistoryLine(
        case_id=row.case_id,
        activity=row.activity,
        timestamp=row.timestamp,
        lifecycle=row.lifecycle,
        resource=row.resource,
        system=row.system,
        instance_id=row.instance_id,
        node_id=row.node_id,
        attributes=row.attributes,
    )


__all__ = ["SqlEngineHistoryRepository", "SqlProcessInstanceRepository", "SqlUserTaskRepository"]
