"""In-memory fakes of the engine's repositories (instances, user tasks, history)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, replace
from datetime import datetime

from isthmus.engine import HistoryLine, ProcessInstance, TaskQuery, TaskState, UserTask
from isthmus.errors import Conflict
from isthmus.jobs import Job, JobId, JobState
from isthmus.testing._memory_tables import fresh


@dataclass(slots=True)
class EngineRows:
    instances: dict[str, ProcessInstance] = field(default_factory=dict)
    tasks: dict[int, UserTask] = field(default_factory=dict)
    history: list[HistoryLine] = field(default_factory=list)
    next_task_id: int = 1

    def copy(self) -> EngineRows:
        return EngineRows(dict(self.instances), dict(self.tasks), list(self.history), self.next_task_id)


class InMemoryProcessInstanceRepository:
    def __init__(self, rows: EngineRows, jobs: dict[JobId, Job]) -> None:
        self._rows = rows
        self._jobs = jobs

    def add(self, instance: ProcessInstance) -> None:
        if instance.id in self._rows.instances:
            raise Conflict("process instance {id} exists", id=instance.id)
        self._rows.instances[instance.id] = fresh(instance)

    def get(self, instance_id: str) -> ProcessInstance | None:
        found = self._rows.instances.get(instance_id)
        return fresh(found) if found else None

    def preload(self, instance_ids: list[str]) -> None:
        """Nothing to read ahead in memory."""

    def save(self, instance: ProcessInstance) -> ProcessInstance:
        stored = self._rows.instances.get(instance.id)
        if stored is None or stored.revision != instance.revision:
            raise Conflict("process instance {id} was changed by someone else; try again", id=instance.id)
        saved = replace(instance, revision=instance.revision + 1)
        self._rows.instances[instance.id] = fresh(saved)
        return saved

    def list(
        self, *, status: str | None = None, definition_key: str | None = None, limit: int = 100
    ) -> builtins.list[ProcessInstance]:
        found = [
            i
            for i in self._rows.instances.values()
            if (status is None or i.status == status)
            and (definition_key is None or i.definition_key == definition_key)
        ]
        found.sort(key=lambda i: (i.created_at, i.id), reverse=True)
        return [fresh(i) for i in found[:limit]]

    def children(self, parent_id: str) -> builtins.list[ProcessInstance]:
        return [fresh(i) for i in self._rows.instances.values() if i.parent_id == parent_id]

    def incident_jobs(self, instance_id: str) -> int:
        return sum(
            1 for j in self._jobs.values() if j.serial_key == instance_id and j.state is JobState.INCIDENT
        )


class InMemoryUserTaskRepository:
    def __init__(self, rows: EngineRows) -> None:
        self._rows = rows

    def add(self, task: UserTask) -> UserTask:
        stored = replace(task, id=self._rows.next_task_id)
        self._rows.next_task_id += 1
        self._rows.tasks[stored.id] = stored
        return stored

    def get(self, task_id: int) -> UserTask | None:
        return self._rows.tasks.get(task_id)

    def update(self, task: UserTask) -> None:
        self._rows.tasks[task.id] = task

    def open_for_token(self, instance_id: str, token: int) -> UserTask | None:
        return next(
            (
                t
                for t in self._rows.tasks.values()
                if t.instance_id == instance_id and t.token == token and t.state is TaskState.OPEN
            ),
            None,
        )

    def close(self, instance_id: str, token: int, state: TaskState, by: str | None, at: datetime) -> None:
        task = self.open_for_token(instance_id, token)
        if task is not None:
            self._rows.tasks[task.id] = replace(task, state=state, completed_by=by, completed_at=at)

    def find(self, query: TaskQuery) -> list[UserTask]:
        found = []
        for task in sorted(self._rows.tasks.values(), key=lambda t: (t.created_at, t.id)):
            if not query.include_closed and task.state is not TaskState.OPEN:
                continue
            if query.instance_id is not None and task.instance_id != query.instance_id:
                continue
            if (query.user is not None or query.groups) and not _visible(task, query):
                continue
            found.append(task)
        return found[: query.limit]


def _visible(task: UserTask, query: TaskQuery) -> bool:
    if task.assignee is not None:
        return task.assignee == query.user
    if query.assigned_only:
        return False
    return (query.user is not None and query.user in task.candidate_users) or bool(
        query.groups.intersection(task.candidate_groups)
    )


class InMemoryEngineHistoryRepository:
    def __init__(self, rows: EngineRows) -> None:
        self._rows = rows

    def append(self, lines: list[HistoryLine]) -> None:
        self._rows.history.extend(lines)

    def for_instance(self, instance_id: str) -> list[HistoryLine]:
        return [line for line in self._rows.history if line.instance_id == instance_id]

    def all(self, limit: int = 100_000) -> list[HistoryLine]:
        return self._rows.history[:limit]
