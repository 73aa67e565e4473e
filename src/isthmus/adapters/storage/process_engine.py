"""The engine's tables on SQL: process instances (optimistic revision), user tasks, history.

Engine steps come thousands a second, so the writes of a step that need no answer — the new
instance state, closing its user tasks, its history lines — are held back per transaction
(:class:`~isthmus.adapters.storage.engine.DeferredWrites`) and sent right before it commits, many rows per statement, on statements
compiled once (:class:`~isthmus.adapters.storage.engine.Prepared`). The revision check stays: the
held-back updates must hit every row they name, else the commit fails with ``Conflict``. Reads of
these tables send the held-back writes first, and an instance read or saved in this transaction is
served from memory (a later step of the same transaction sees its own writes).
"""

from __future__ import annotations

import builtins
import json
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, update

from isthmus.adapters.storage.engine import (
    DeferredWrites,
    Prepared,
    deferred,
    ids_in,
    new_id,
    send_deferred,
)
from isthmus.adapters.storage.tables import engine_history, jobs, process_instances, user_tasks
from isthmus.engine import HistoryLine, ProcessInstance, TaskQuery, TaskState, UserTask
from isthmus.errors import Conflict

_i, _t, _h = process_instances, user_tasks, engine_history

_json_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# what json would refuse (dates, dataclasses) or write its own way (subclasses such as IntEnum)
# goes to json too, so a state json could not store is refused as before
_AS_JSON_WOULD = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _dumps(state: Any) -> str:
    """An instance's state as JSON text, once per save: orjson (several times faster than
    :mod:`json` on a typical state; the same compact UTF-8 text), :mod:`json` for what orjson
    cannot write (integers beyond 64 bits, keys that are not text). NaN and infinities become
    ``null`` (PostgreSQL refuses the ``NaN`` that :mod:`json` would write)."""
    try:
        return orjson.dumps(state, option=_AS_JSON_WOULD).decode()
    except TypeError:
        return _json_dumps(state)


_INSTANCE_COLUMNS = (
    "business_key",
    "definition_key",
    "definition_version",
    "state",
    "data",
    "schema_version",
    "parent_id",
    "parent_token",
    "started_by",
    "created_at",
    "updated_at",
    "ended_at",
)
_INSERT_INSTANCE = Prepared(
    insert(_i).values({c: bindparam(c) for c in ("id", "revision", *_INSTANCE_COLUMNS)}),
    as_is=frozenset({"data"}),
)
_SAVE_INSTANCE = Prepared(
    update(_i)
    .where(_i.c.id == bindparam("w_id"), _i.c.revision == bindparam("w_rev"))
    .values({c: bindparam("b_" + c) for c in ("revision", *_INSTANCE_COLUMNS)}),
    as_is=frozenset({"b_data"}),
    each_row="a process instance was changed by someone else; try again",
)
_GET_INSTANCE = Prepared(select(_i).where(_i.c.id == bindparam("id")))
_GET_INSTANCES = Prepared(lambda dialect: select(_i).where(ids_in(_i.c.id, dialect)))
_CLOSE_TASK = Prepared(
    update(_t)
    .where(_t.c.instance_id == bindparam("w_i"), _t.c.token == bindparam("w_t"), _t.c.state == "open")
    .values(state=bindparam("b_s"), completed_by=bindparam("b_by"), completed_at=bindparam("b_at"))
)
_CLOSE_TASK_BY_ID = Prepared(
    update(_t)
    .where(_t.c.id == bindparam("w_id"), _t.c.state == "open")
    .values(state=bindparam("b_s"), completed_by=bindparam("b_by"), completed_at=bindparam("b_at"))
)
_TASK_COLUMNS = (
    "instance_id",
    "token",
    "activation",
    "activity_id",
    "name",
    "process_key",
    "business_key",
    "candidate_groups",
    "candidate_users",
    "assignee",
    "due",
    "form",
    "four_eyes",
    "initiator",
    "state",
    "comments",
    "attachments",
    "created_at",
    "completed_at",
    "completed_by",
)
_ADD_TASK = Prepared(insert(_t).values({c: bindparam(c) for c in ("id", *_TASK_COLUMNS)}))
# a task with its instance (completing it steps the instance next): one read instead of two
_TASK_WITH_INSTANCE = select(_t, *(c.label("i_" + c.name) for c in _i.c)).select_from(
    _t.outerjoin(_i, _i.c.id == _t.c.instance_id)
)
_GET_TASK = Prepared(_TASK_WITH_INSTANCE.where(_t.c.id == bindparam("id")))
_GET_TASKS = Prepared(lambda dialect: _TASK_WITH_INSTANCE.where(ids_in(_t.c.id, dialect)))


def _find_tasks(include_closed: bool, by_instance: bool, limited: bool) -> Prepared:
    """The task list's query for one combination of filters (compiled once each)."""
    query = select(_t).order_by(_t.c.created_at, _t.c.id)
    if not include_closed:
        query = query.where(_t.c.state == "open")
    if by_instance:
        query = query.where(_t.c.instance_id == bindparam("instance_id"))
    if limited:
        query = query.limit(bindparam("limit"))
    return Prepared(query)


_FIND_TASKS = {
    (closed, by_instance, limited): _find_tasks(closed, by_instance, limited)
    for closed in (False, True)
    for by_instance in (False, True)
    for limited in (False, True)
}
_HISTORY_COLUMNS = (
    "case_id",
    "activity",
    "timestamp",
    "lifecycle",
    "resource",
    "system",
    "instance_id",
    "node_id",
    "attributes",
)
_ADD_HISTORY = Prepared(insert(_h).inline().values({c: bindparam(c) for c in _HISTORY_COLUMNS}))


def _instance(row: Any, prefix: str = "") -> ProcessInstance:
    if not prefix:
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
    r = row._asdict() if hasattr(row, "_asdict") else row._mapping
    return ProcessInstance(
        id=r[prefix + "id"],
        business_key=r[prefix + "business_key"],
        definition_key=r[prefix + "definition_key"],
        definition_version=r[prefix + "definition_version"],
        status=r[prefix + "state"],
        state=r[prefix + "data"],
        schema_version=r[prefix + "schema_version"],
        revision=r[prefix + "revision"],
        parent_id=r[prefix + "parent_id"],
        parent_token=r[prefix + "parent_token"],
        started_by=r[prefix + "started_by"],
        created_at=r[prefix + "created_at"],
        updated_at=r[prefix + "updated_at"],
        ended_at=r[prefix + "ended_at"],
    )


def _next_revision(i: ProcessInstance) -> ProcessInstance:
    """``replace(i, revision=i.revision + 1)`` as one constructor call (a step saves once)."""
    return ProcessInstance(
        id=i.id,
        business_key=i.business_key,
        definition_key=i.definition_key,
        definition_version=i.definition_version,
        status=i.status,
        state=i.state,
        schema_version=i.schema_version,
        revision=i.revision + 1,
        parent_id=i.parent_id,
        parent_token=i.parent_token,
        started_by=i.started_by,
        created_at=i.created_at,
        updated_at=i.updated_at,
        ended_at=i.ended_at,
    )


def _instance_values(instance: ProcessInstance, prefix: str = "") -> dict[str, Any]:
    return {
        prefix + "business_key": instance.business_key,
        prefix + "definition_key": instance.definition_key,
        prefix + "definition_version": instance.definition_version,
        prefix + "state": instance.status,
        # serialised now: later steps of this transaction may change the dicts inside
        prefix + "data": _dumps(instance.state),
        prefix + "schema_version": instance.schema_version,
        prefix + "parent_id": instance.parent_id,
        prefix + "parent_token": instance.parent_token,
        prefix + "started_by": instance.started_by,
        prefix + "created_at": instance.created_at,
        prefix + "updated_at": instance.updated_at,
        prefix + "ended_at": instance.ended_at,
    }


class SqlProcessInstanceRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._info = connection.info  # the connection's for the unit of work's life

    def add(self, instance: ProcessInstance) -> None:
        writes = deferred(self._db, self._info)
        if instance.id in writes.known:
            raise Conflict("process instance {id} exists", id=instance.id)
        row = {"id": instance.id, "revision": instance.revision, **_instance_values(instance)}
        writes.add(_INSERT_INSTANCE, row)
        writes.unsent[instance.id] = row
        writes.known[instance.id] = instance

    def get(self, instance_id: str) -> ProcessInstance | None:
        writes = deferred(self._db, self._info)
        found: ProcessInstance | None = writes.known.get(instance_id)
        if found is not None:
            return found
        rows = _GET_INSTANCE.rows(self._db, {"id": instance_id})
        if not rows:
            return None
        writes.known[instance_id] = found = _instance(rows[0])
        return found

    def preload(self, instance_ids: builtins.list[str]) -> None:
        """Read these instances with one statement (a batch of steps reads them next)."""
        writes = deferred(self._db, self._info)
        wanted = [i for i in dict.fromkeys(instance_ids) if i not in writes.known]
        for first in range(0, len(wanted), 500):
            for row in _GET_INSTANCES.rows(self._db, {"ids": wanted[first : first + 500]}):
                writes.known[row.id] = _instance(row)

    def save(self, instance: ProcessInstance) -> ProcessInstance:
        writes = deferred(self._db, self._info)
        saved = _next_revision(instance)
        known = writes.known.get(instance.id)
        if known is not None and known.revision != instance.revision:
            raise Conflict("process instance {id} was changed by someone else; try again", id=instance.id)
        held = writes.unsent.get(instance.id)
        if held is not None and "id" in held:  # inserted in this transaction, not sent yet
            held.update(_instance_values(saved), revision=saved.revision)
        elif held is not None:  # an update not sent yet: the same row, newer values
            held.update(_instance_values(saved, "b_"), b_revision=saved.revision)
        else:
            row = {"w_id": instance.id, "w_rev": instance.revision, "b_revision": saved.revision}
            row.update(_instance_values(saved, "b_"))
            writes.add(_SAVE_INSTANCE, row)
            writes.unsent[instance.id] = row
        writes.known[instance.id] = saved
        return saved

    def list(
        self, *, status: str | None = None, definition_key: str | None = None, limit: int = 100
    ) -> builtins.list[ProcessInstance]:
        send_deferred(self._db, self._info)
        query = select(_i).order_by(_i.c.created_at.desc(), _i.c.id).limit(limit)
        if status is not None:
            query = query.where(_i.c.state == status)
        if definition_key is not None:
            query = query.where(_i.c.definition_key == definition_key)
        return [_instance(r) for r in self._db.execute(query).all()]

    def children(self, parent_id: str) -> builtins.list[ProcessInstance]:
        send_deferred(self._db, self._info)
        rows = self._db.execute(select(_i).where(_i.c.parent_id == parent_id).order_by(_i.c.created_at))
        return [_instance(r) for r in rows.all()]

    def incident_jobs(self, instance_id: str) -> int:
        send_deferred(self._db, self._info)
        query = select(func.count()).where(jobs.c.serial_key == instance_id, jobs.c.state == "incident")
        return int(self._db.execute(query).scalar_one())


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
        # tuples as they are (JSON arrays): the tasks of one node share them, so the JSON bind
        # processor serialises them once per run of rows instead of once per row
        "candidate_groups": task.candidate_groups,
        "candidate_users": task.candidate_users,
        "assignee": task.assignee,
        "due": task.due,
        "form": task.form,
        "four_eyes": task.four_eyes,
        "initiator": task.initiator,
        "state": task.state.value,
        "comments": task.comments,
        "attachments": task.attachments,
        "created_at": task.created_at,
        "completed_at": task.completed_at,
        "completed_by": task.completed_by,
    }


class SqlUserTaskRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._info = connection.info  # the connection's for the unit of work's life

    def add(self, task: UserTask) -> UserTask:
        writes = deferred(self._db, self._info)
        if ("close", task.instance_id, task.token) in writes.marks:
            writes.flush()  # the held-back close of this token must not close the new task
        task_id = new_id(self._db, "user_tasks")
        writes.add(_ADD_TASK, {"id": task_id, **_task_values(task)})
        writes.marks.add(("task", task_id))
        writes.known[("open", task.instance_id, task.token)] = task_id
        return UserTask(**{**{n: getattr(task, n) for n in UserTask.__dataclass_fields__}, "id": task_id})

    def get(self, task_id: int) -> UserTask | None:
        writes = deferred(self._db, self._info)
        if ("task", task_id) in writes.marks:
            writes.flush()
        cached: UserTask | None = writes.known.pop(("task", task_id), None)  # preloaded: served once
        if cached is not None and ("close", cached.instance_id, cached.token) not in writes.marks:
            return cached
        rows = _GET_TASK.rows(self._db, {"id": task_id})
        if not rows:
            return None
        if ("close", rows[0].instance_id, rows[0].token) in writes.marks:  # read it again after its close
            writes.flush()
            rows = _GET_TASK.rows(self._db, {"id": task_id})
        return self._with_instance(writes, rows[0])

    def _with_instance(self, writes: DeferredWrites, row: Any) -> UserTask:
        if row.i_id is not None and row.i_id not in writes.known:
            writes.known[row.i_id] = _instance(row, "i_")
        if row.state == "open":  # closing it later in this transaction can name its id
            writes.known[("open", row.instance_id, row.token)] = row.id
        return _task(row)

    def preload(self, task_ids: list[int]) -> None:
        """Read these tasks and their instances with one statement: a batch completes them next.
        Each preloaded task is served once by :meth:`get` (a second read goes to the database)."""
        send_deferred(self._db, self._info)
        writes = deferred(self._db, self._info)
        wanted = list(dict.fromkeys(task_ids))
        for first in range(0, len(wanted), 500):
            for row in _GET_TASKS.rows(self._db, {"ids": wanted[first : first + 500]}):
                writes.known[("task", row.id)] = self._with_instance(writes, row)

    def update(self, task: UserTask) -> None:
        send_deferred(self._db, self._info)
        deferred(self._db, self._info).known.pop(("task", task.id), None)
        self._db.execute(update(_t).where(_t.c.id == task.id).values(**_task_values(task)))

    def open_for_token(self, instance_id: str, token: int) -> UserTask | None:
        send_deferred(self._db, self._info)
        row = self._db.execute(
            select(_t).where(_t.c.instance_id == instance_id, _t.c.token == token, _t.c.state == "open")
        ).first()
        return _task(row) if row else None

    def close(self, instance_id: str, token: int, state: TaskState, by: str | None, at: datetime) -> None:
        writes = deferred(self._db, self._info)
        values = {"b_s": state.value, "b_by": by, "b_at": at}
        task_id = writes.known.pop(("open", instance_id, token), None)
        if task_id is not None:  # read or opened in this transaction: close exactly that row
            if ("task", task_id) in writes.marks:
                writes.flush()  # opened in this transaction: insert it first
            writes.add(_CLOSE_TASK_BY_ID, {"w_id": task_id, **values})
            writes.marks.add(("task", task_id))  # a read of it sends the close first
            return
        # the open task of the token, whichever it is: a task opened on this token later in this
        # transaction must wait until this close is sent (see add)
        writes.add(_CLOSE_TASK, {"w_i": instance_id, "w_t": token, **values})
        writes.marks.add(("close", instance_id, token))

    def find(self, query: TaskQuery) -> list[UserTask]:
        send_deferred(self._db, self._info)
        filtered = query.user is not None or bool(query.groups)
        # visibility is decided below: limit after it
        statement = _FIND_TASKS[(query.include_closed, query.instance_id is not None, not filtered)]
        found = statement.rows(self._db, {"instance_id": query.instance_id, "limit": query.limit})
        rows = [_task(r) for r in found]
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
        self._info = connection.info  # the connection's for the unit of work's life

    def append(self, lines: list[HistoryLine]) -> None:
        deferred(self._db, self._info).ops.extend(
            (
                _ADD_HISTORY,
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
                },
            )
            for line in lines
        )

    def for_instance(self, instance_id: str) -> list[HistoryLine]:
        send_deferred(self._db, self._info)
        rows = self._db.execute(select(_h).where(_h.c.instance_id == instance_id).order_by(_h.c.id)).all()
        return [_line(r) for r in rows]

    def all(self, limit: int = 100_000) -> list[HistoryLine]:
        send_deferred(self._db, self._info)
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
