"""Run › task inbox and instances: my tasks and my groups' tasks (claim, unclaim, delegate, comment,
attach, complete through a form generated from the task's form fields), start an instance of a
deployed process, and the instance page (state, variables, history, incidents, nodes).

Every rule (candidates, four-eyes, form validation) lives in the services; a refused action shows
the service's error on the page it came from.
"""

from __future__ import annotations

import json
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
    notices = container.tasks.notifications(principal)
    context = {
        "mine": mine,
        "group": group,
        "now": now,
        "flash": MESSAGES.get(msg),
        "flash_id": id,
        "notices": notices,
    }
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


INSTANCE_MESSAGES = {
    "variables": N_("The variables were saved."),
    "retried": N_("Job {id} will run again."),
}


def _instance_page(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    instance_id: str,
    *,
    msg: str = "",
    flash_id: str = "",
    error: IsthmusError | None = None,
    draft: str = "",
) -> Response:
    view = container.engine.show(principal, instance_id)
    diagram = container.engine.diagram(principal, instance_id)
    context = {
        "view": view,
        "marks": diagram.marks(),
        "has_diagram": b"BPMNDiagram" in diagram.xml,
        "may_fix": _may(principal, "instance:operate"),
        "may_retry": _may(principal, "job:operate"),
        "flash": INSTANCE_MESSAGES.get(msg),
        "flash_id": flash_id,
        "error": error,
        "draft": draft or json.dumps(view.variables, ensure_ascii=False, indent=2, sort_keys=True),
    }
    return render(
        request,
        "tasks/instance.html",
        context,
        status_code=422 if error else 200,
        headers={"Content-Security-Policy": _diagram_csp()},
    )


@router.get("/instances/{instance_id}", include_in_schema=False)
def instance(
    request: Request,
    instance_id: str,
    container: WebContainer,
    principal: WebPrincipal,
    msg: str = "",
    id: str = "",
) -> Response:
    return _instance_page(request, container, principal, instance_id, msg=msg, flash_id=id)


@router.get("/instances/{instance_id}/diagram.xml", include_in_schema=False)
def instance_diagram(instance_id: str, container: WebContainer, principal: WebPrincipal) -> Response:
    """The BPMN of the instance's own version, for the viewer (instance readers need no model right)."""
    diagram = container.engine.diagram(principal, instance_id)
    return Response(diagram.xml, media_type="application/xml")


@router.post("/instances/{instance_id}/variables", include_in_schema=False)
async def fix_variables(
    request: Request, instance_id: str, container: WebContainer, principal: WebPrincipal
) -> Response:
    """An operator edits the variables (a JSON object) before retrying an incident."""
    form = await request.form()
    raw = form.get("variables")
    text = raw if isinstance(raw, str) else ""
    problem: InvalidInput | None = None
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as decode:
        problem = InvalidInput("variables: not JSON ({error})", field="variables", error=str(decode))
    else:
        if not isinstance(value, dict):
            problem = InvalidInput("variables: give a JSON object", field="variables")
    if problem is None:
        try:
            await run_in_threadpool(container.engine.set_variables, principal, instance_id, value)
        except InvalidInput as refused:
            problem = refused
    if problem is not None:
        shown = problem
        return await run_in_threadpool(
            lambda: _instance_page(request, container, principal, instance_id, error=shown, draft=text)
        )
    return RedirectResponse(with_query(f"/instances/{instance_id}", msg="variables"), status_code=303)


@router.post("/instances/{instance_id}/jobs/{job_id}/retry", include_in_schema=False)
def retry_job(instance_id: str, job_id: int, container: WebContainer, principal: WebPrincipal) -> Response:
    job = container.jobs.get(principal, job_id)
    if job.serial_key != instance_id:
        raise InvalidInput("job {id} does not belong to this instance", id=job_id)
    container.jobs.retry(principal, job_id)
    return RedirectResponse(
        with_query(f"/instances/{instance_id}", msg="retried", id=str(job_id)), status_code=303
    )


@router.post("/notifications/{notification_id}/dismiss", include_in_schema=False)
def dismiss(notification_id: int, container: WebContainer, principal: WebPrincipal) -> Response:
    container.tasks.dismiss(principal, notification_id)
    return RedirectResponse("/tasks", status_code=303)


def _diagram_csp() -> str:
    """As the modeler: bpmn-js sizes its SVG and overlays through style attributes, so inline
    *styles* are allowed on this page; scripts stay ``'self'`` only."""
    from isthmus.adapters.web import CONTENT_SECURITY_POLICY  # the package imports this module

    return CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def _may(principal: WebPrincipal, permission: str) -> bool:
    try:
        principal.require(permission)
    except IsthmusError:
        return False
    return True
