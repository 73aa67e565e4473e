"""Run › task inbox and instances: my tasks and my groups' tasks (claim, unclaim, delegate, comment,
attach, complete through a form generated from the task's form fields), start an instance of a
deployed process, and the instance page (state, variables, history, incidents, nodes).

Every rule (candidates, four-eyes, form validation) lives in the services; a refused action shows
the service's error on the page it came from.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._redirects import with_query
from isthmus.adapters.web._templates import render
from isthmus.errors import InvalidInput, IsthmusError, PayloadTooLarge
from isthmus.i18n import N_
from isthmus.services.inbox import MAX_ATTACHMENT_BYTES

router = APIRouter(route_class=WebRoute)
register_page(Page(Stage.RUN, "tasks", N_("Task inbox"), "/tasks", "task:work"))
register_page(Page(Stage.RUN, "instances", N_("Instances"), "/instances", "instance:read"))

MESSAGES = {
    "claimed": N_("Task {id} is yours now."),
    "released": N_("Task {id} is back in the group's list."),
    "completed": N_("Task {id} is done."),
    "delegated": N_("Task {id} was delegated."),
}


@router.get("/tasks", include_in_schema=False)
def inbox(
    request: Request, container: WebContainer, principal: WebPrincipal, msg: str = "", id: str = ""
) -> Response:
    found = container.tasks.list(principal)
    now = container.clock.now()
    mine = [t for t in found if t.assignee == principal.actor]
    group = [t for t in found if t.assignee is None]
    context = {"mine": mine, "group": group, "now": now, "flash": MESSAGES.get(msg), "flash_id": id}
    return render(request, "tasks/inbox.html", context)


@router.post("/tasks/{task_id}/claim", include_in_schema=False)
def claim(task_id: int, container: WebContainer, principal: WebPrincipal) -> Response:
    container.tasks.claim(principal, task_id)
    return RedirectResponse(with_query("/tasks", msg="claimed", id=str(task_id)), status_code=303)


@router.post("/tasks/{task_id}/unclaim", include_in_schema=False)
def unclaim(task_id: int, container: WebContainer, principal: WebPrincipal) -> Response:
    container.tasks.unclaim(principal, task_id)
    return RedirectResponse(with_query("/tasks", msg="released", id=str(task_id)), status_code=303)


def _task_page(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    task_id: int,
    error: IsthmusError | None,
) -> Response:
    task = container.tasks.get(principal, task_id)
    context: dict[str, Any] = {
        "task": task,
        "overdue": task.is_overdue(container.clock.now()),
        "error": error,
        "may_complete": not (task.four_eyes and task.initiator == principal.actor),
    }
    return render(request, "tasks/task.html", context, status_code=422 if error else 200)


@router.get("/tasks/{task_id}", include_in_schema=False)
def task_page(request: Request, task_id: int, container: WebContainer, principal: WebPrincipal) -> Response:
    return _task_page(request, container, principal, task_id, None)


@router.post("/tasks/{task_id}/complete", include_in_schema=False)
async def complete(
    request: Request, task_id: int, container: WebContainer, principal: WebPrincipal
) -> Response:
    form = await request.form()
    task = await run_in_threadpool(container.tasks.get, principal, task_id)
    values: dict[str, Any] = {}
    for field in task.form:
        raw = form.get(field["id"])
        if field.get("type") == "boolean":
            values[field["id"]] = raw is not None and raw != "false"
        elif isinstance(raw, str):
            values[field["id"]] = raw
    try:
        await run_in_threadpool(container.tasks.complete, principal, task_id, values)
    except InvalidInput as error:
        return await run_in_threadpool(_task_page, request, container, principal, task_id, error)
    return RedirectResponse(with_query("/tasks", msg="completed", id=str(task_id)), status_code=303)


@router.post("/tasks/{task_id}/comment", include_in_schema=False)
async def comment(
    request: Request, task_id: int, container: WebContainer, principal: WebPrincipal
) -> Response:
    text = (await request.form()).get("text")
    await run_in_threadpool(
        container.tasks.comment, principal, task_id, text if isinstance(text, str) else ""
    )
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


@router.post("/tasks/{task_id}/delegate", include_in_schema=False)
async def delegate(
    request: Request, task_id: int, container: WebContainer, principal: WebPrincipal
) -> Response:
    user = (await request.form()).get("user")
    if not isinstance(user, str) or not user.strip():
        raise InvalidInput("name the user to delegate to", field="user")
    await run_in_threadpool(container.tasks.delegate, principal, task_id, user.strip())
    return RedirectResponse(with_query("/tasks", msg="delegated", id=str(task_id)), status_code=303)


@router.post("/tasks/{task_id}/attach", include_in_schema=False)
async def attach(
    request: Request, task_id: int, container: WebContainer, principal: WebPrincipal
) -> Response:
    form = await request.form()
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidInput("choose a file to attach", field="file")
        data = await file.read(MAX_ATTACHMENT_BYTES + 1)
        name = file.filename
    finally:
        await form.close()
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise PayloadTooLarge("file: larger than {limit} bytes", limit=MAX_ATTACHMENT_BYTES)
    await run_in_threadpool(container.tasks.attach, principal, task_id, name, data)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


@router.get("/instances", include_in_schema=False)
def instances(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    found = container.engine.list(principal, limit=200)
    processes = container.models.list(principal) if _may(principal, "instance:start") else []
    return render(request, "tasks/instances.html", {"instances": found, "processes": processes})


@router.post("/instances", include_in_schema=False)
async def start(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    form = await request.form()
    key, business_key = form.get("process_key"), form.get("business_key")
    if not isinstance(key, str) or not key:
        raise InvalidInput("choose a process to start", field="process_key")
    started = await run_in_threadpool(
        lambda: container.engine.start(
            principal,
            key,
            {},
            business_key=business_key if isinstance(business_key, str) and business_key else None,
        )
    )
    return RedirectResponse(f"/instances/{started.id}", status_code=303)


@router.get("/instances/{instance_id}", include_in_schema=False)
def instance(
    request: Request, instance_id: str, container: WebContainer, principal: WebPrincipal
) -> Response:
    view = container.engine.show(principal, instance_id)
    active = set(view.active_activities)
    done = set(view.completed_activities)
    return render(request, "tasks/instance.html", {"view": view, "active": active, "done": done})


def _may(principal: WebPrincipal, permission: str) -> bool:
    try:
        principal.require(permission)
    except IsthmusError:
        return False
    return True
