"""``/api/v1/instances`` and ``/api/v1/tasks``: run deployed processes and work the task inbox.

Instance JSON is :meth:`InstanceView.as_dict` (``state``, ``completed_activities``, ``variables`` …);
task JSON is :meth:`UserTask.as_dict`. Personal data in variables (phone numbers, ID numbers …) is
masked for principals without ``instance:operate``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from isthmus.adapters.api.auth import ContainerDep, CurrentPrincipal
from isthmus.errors import InvalidInput, PayloadTooLarge
from isthmus.services.inbox import MAX_ATTACHMENT_BYTES

instances = APIRouter(prefix="/instances", tags=["engine"])
tasks = APIRouter(prefix="/tasks", tags=["engine"])
messages = APIRouter(prefix="/messages", tags=["engine"])
notifications = APIRouter(prefix="/notifications", tags=["engine"])


class StartIn(BaseModel):
    process_key: str = Field(min_length=1, max_length=200, examples=["SAL-ORD-001"])
    variables: dict[str, Any] = Field(default_factory=dict, examples=[{"order_id": "SO-1"}])
    business_key: str | None = Field(None, max_length=200)
    version: int | None = Field(None, ge=1)


class MessageIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    variables: dict[str, Any] = Field(default_factory=dict)


class PublishIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["payment received"])
    correlation_key: str | int | None = Field(None, examples=["SO-1"])
    variables: dict[str, Any] = Field(default_factory=dict)
    message_id: str | None = Field(None, min_length=1, max_length=200)


class VariablesIn(BaseModel):
    variables: dict[str, Any]


class DelegateIn(BaseModel):
    user: str = Field(min_length=1, max_length=200)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


@instances.post("", status_code=status.HTTP_201_CREATED)
def start_instance(body: StartIn, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    started = container.engine.start(
        principal, body.process_key, body.variables, business_key=body.business_key, version=body.version
    )
    return {"id": started.id, "state": started.status, "version": started.definition_version}


@instances.get("")
def list_instances(
    container: ContainerDep,
    principal: CurrentPrincipal,
    process_key: str | None = None,
    state: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    return [i.summary() for i in container.engine.list(principal, status=state, key=process_key, limit=limit)]


@instances.get("/{instance_id}")
def show_instance(instance_id: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.engine.show(principal, instance_id).as_dict()


@instances.post("/{instance_id}/messages", status_code=status.HTTP_204_NO_CONTENT)
def correlate(
    instance_id: str, body: MessageIn, container: ContainerDep, principal: CurrentPrincipal
) -> None:
    container.engine.correlate(principal, instance_id, body.name, body.variables)


@messages.post("")
def publish(body: PublishIn, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Deliver to every instance waiting with this correlation key; start processes with a message
    start event. ``{correlated: [ids], started: [ids], duplicate}`` (duplicate: the message id was
    published before and nothing was done)."""
    result = container.engine.publish(
        principal, body.name, body.correlation_key, body.variables, message_id=body.message_id
    )
    return result.as_dict()


@notifications.get("")
def list_notifications(container: ContainerDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """My unread escalation notices and my groups' (``isthmus:escalate notify:…``), newest first."""
    return [n.as_dict() for n in container.tasks.notifications(principal)]


@notifications.post("/{notification_id}/dismiss", status_code=status.HTTP_204_NO_CONTENT)
def dismiss_notification(notification_id: int, container: ContainerDep, principal: CurrentPrincipal) -> None:
    container.tasks.dismiss(principal, notification_id)


@instances.patch("/{instance_id}/variables", status_code=status.HTTP_204_NO_CONTENT)
def set_variables(
    instance_id: str, body: VariablesIn, container: ContainerDep, principal: CurrentPrincipal
) -> None:
    container.engine.set_variables(principal, instance_id, body.variables)


@instances.post("/{instance_id}/terminate", status_code=status.HTTP_204_NO_CONTENT)
def terminate(instance_id: str, container: ContainerDep, principal: CurrentPrincipal) -> None:
    container.engine.terminate(principal, instance_id)


@tasks.get("")
def list_tasks(
    container: ContainerDep,
    principal: CurrentPrincipal,
    instance: str | None = None,
    mine: bool = False,
) -> list[dict[str, Any]]:
    now = container.clock.now()
    found = container.tasks.list(principal, instance_id=instance, mine=mine)
    return [t.as_dict() | {"overdue": t.is_overdue(now)} for t in found]


@tasks.get("/{task_id}")
def get_task(task_id: int, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    task = container.tasks.get(principal, task_id)
    return task.as_dict() | {"overdue": task.is_overdue(container.clock.now())}


@tasks.post("/{task_id}/claim")
def claim(task_id: int, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.tasks.claim(principal, task_id).as_dict()


@tasks.post("/{task_id}/unclaim")
def unclaim(task_id: int, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.tasks.unclaim(principal, task_id).as_dict()


@tasks.post("/{task_id}/delegate")
def delegate(
    task_id: int, body: DelegateIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return container.tasks.delegate(principal, task_id, body.user).as_dict()


@tasks.post("/{task_id}/comments", status_code=status.HTTP_201_CREATED)
def comment(
    task_id: int, body: CommentIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return container.tasks.comment(principal, task_id, body.text).as_dict()


@tasks.post("/{task_id}/attachments", status_code=status.HTTP_201_CREATED)
async def attach(
    task_id: int, request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    form = await request.form()
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidInput("file: expected a file in the multipart field 'file'", field="file")
        data = await file.read(MAX_ATTACHMENT_BYTES + 1)
        name = file.filename or "attachment"
    finally:
        await form.close()
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise PayloadTooLarge("file: larger than {limit} bytes", limit=MAX_ATTACHMENT_BYTES)
    task = await run_in_threadpool(container.tasks.attach, principal, task_id, name, data)
    return task.as_dict()


@tasks.post("/{task_id}/complete")
def complete(
    task_id: int, body: VariablesIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return container.tasks.complete(principal, task_id, body.variables).as_dict()
