"""Discover › process catalog: the guide's table 1 as a page — list, search, edit, import, export,
and on the edit page the process's key-node SLAs (a form of its own: saving the row never touches
them, see ``services/catalog.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.web._catalog_form import FORMULA, ProcessForm, field_errors, to_process
from isthmus.adapters.web._catalog_view import (
    PRIORITY_LABELS,
    SORTABLE,
    CatalogView,
    chart_data,
    problem_cells,
    score_text,
)
from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._redirects import with_query
from isthmus.adapters.web._templates import is_htmx, render
from isthmus.bootstrap import Container
from isthmus.catalog import NodeSla, Priority, parse_sla_lines
from isthmus.errors import Conflict, InvalidInput, IsthmusError, Location, PayloadTooLarge
from isthmus.i18n import N_
from isthmus.security import Principal

router = APIRouter(prefix="/catalog", route_class=WebRoute)
register_page(Page(Stage.DISCOVER, "catalog", N_("Process catalog"), "/catalog", "catalog:read"))

RESULTS_TARGET = "catalog-results"
MESSAGES = {
    "created": N_("Process %(id)s was created."),
    "updated": N_("Process %(id)s was saved."),
    "deleted": N_("Process %(id)s was deleted."),
}


def _list_context(container: Container, principal: Principal, view: CatalogView) -> dict[str, Any]:
    items, total = container.catalog.query(principal, view.query())
    return {
        "view": view,
        "items": items,
        "total": total,
        "last_page": max((total + view.query().limit - 1) // view.query().limit, 1),
        "sortable": SORTABLE,
        "fields": {field.value: field for field in SORTABLE},
        "priorities": list(Priority),
        "priority_labels": PRIORITY_LABELS,
        "score_text": score_text,
        "problem_cells": problem_cells,
        "chart": chart_data(items),
    }


def _full_context(container: Container, principal: Principal, view: CatalogView) -> dict[str, Any]:
    departments = sorted({p.department for p in container.catalog.all(principal) if p.department})
    return _list_context(container, principal, view) | {"departments": departments}


@router.get("", include_in_schema=False)
def catalog_list(
    request: Request, container: WebContainer, principal: WebPrincipal, msg: str = "", id: str = ""
) -> Response:
    view = CatalogView.parse(dict(request.query_params))
    # One URL answers with a fragment (htmx) or a page: caches must keep them apart.
    vary = {"Vary": "HX-Request, HX-Target"}
    if is_htmx(request, RESULTS_TARGET):
        return render(
            request, "catalog/_results.html", _list_context(container, principal, view), headers=vary
        )
    context = _full_context(container, principal, view)
    context["flash"] = MESSAGES.get(msg)
    context["flash_id"] = id
    return render(request, "catalog/list.html", context, headers=vary)


@router.post("/import", include_in_schema=False)
async def catalog_import(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """All-or-nothing import: the page shows either the counts or every problem of the file."""
    context: dict[str, Any] = {"flash": None, "flash_id": ""}
    status = 200
    try:
        if file is None or not file.filename:
            raise InvalidInput("choose an .xlsx or .csv file to import")
        limit = container.settings.max_upload_bytes
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
        report = await run_in_threadpool(container.catalog.import_file, principal, data, file.filename)
        context["import_report"] = report
    except InvalidInput as error:
        context["import_error"] = error
        context["import_file"] = file.filename if file else ""
        status = 422
    view = CatalogView.parse({})
    context |= await run_in_threadpool(_full_context, container, principal, view)
    return render(request, "catalog/list.html", context, status_code=status)


def _sla_text(slas: tuple[NodeSla, ...]) -> str:
    return "\n".join(f"{s.node} = {s.duration}" for s in slas)


def _sla_problems(text: str, error: InvalidInput | None) -> list[tuple[int | None, IsthmusError]]:
    """Each problem with the form line it is about (``slas[i]`` is the i-th non-blank line)."""
    if error is None:
        return []
    lines = [number for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    found: list[tuple[int | None, IsthmusError]] = []
    for problem in error.details or [error]:
        field = problem.location.field if problem.location else None
        index = int(field[5 : field.index("]")]) if field and field.startswith("slas[") else None
        line = problem.params.get("line") if index is None else lines[index] if index < len(lines) else None
        found.append((line, problem))
    return found


def _form_page(
    request: Request,
    form: ProcessForm,
    *,
    editing: bool,
    error: InvalidInput | None = None,
    conflict: Conflict | None = None,
    status_code: int = 200,
    slas: str | None = None,
    sla_error: InvalidInput | None = None,
    notice: str = "",
) -> Response:
    context = {
        "slas": slas,
        "sla_error": sla_error,
        "sla_problems": _sla_problems(slas or "", sla_error),
        "notice": notice,
        "form": form,
        "editing": editing,
        "errors": field_errors(error) if error else {},
        "conflict": conflict,
        "priorities": list(Priority),
        "priority_labels": PRIORITY_LABELS,
        "formula": FORMULA,
    }
    return render(request, "catalog/form.html", context, status_code=status_code)


@router.get("/new", include_in_schema=False)
def new_form(request: Request, principal: WebPrincipal) -> Response:
    principal.require("catalog:write")
    return _form_page(request, ProcessForm(), editing=False)


@router.post("/new", include_in_schema=False)
async def create(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    form = ProcessForm.from_mapping(dict(await request.form()))
    try:
        process = to_process(form)
        stored = await run_in_threadpool(container.catalog.create, principal, process)
    except InvalidInput as error:
        return _form_page(request, form, editing=False, error=error, status_code=422)
    except Conflict as duplicate:
        on_id = InvalidInput(duplicate.template, location=Location(field="id"), **duplicate.params)
        taken = InvalidInput("{first}", details=[on_id], first=duplicate.message)
        return _form_page(request, form, editing=False, error=taken, status_code=409)
    return RedirectResponse(with_query("/catalog", msg="created", id=stored.id), status_code=303)


@router.get("/{process_id}/edit", include_in_schema=False)
def edit_form(
    request: Request,
    process_id: str,
    container: WebContainer,
    principal: WebPrincipal,
    slas: str = "",
) -> Response:
    principal.require("catalog:write")
    process = container.catalog.get(principal, process_id)
    text = _sla_text(container.catalog.slas(principal, process_id))
    notice = "slas" if slas == "saved" else ""
    return _form_page(request, ProcessForm.from_process(process), editing=True, slas=text, notice=notice)


@router.post("/{process_id}/slas", include_in_schema=False)
async def save_slas(
    request: Request, process_id: str, container: WebContainer, principal: WebPrincipal
) -> Response:
    """Replace the key-node SLAs from ``node = PT4H`` lines; a bad line shows the page again with
    the text as typed and the problem next to it."""
    text = str((await request.form()).get("slas") or "")
    try:
        parsed = parse_sla_lines(text)
        await run_in_threadpool(container.catalog.set_slas, principal, process_id, list(parsed))
    except InvalidInput as error:
        process = await run_in_threadpool(container.catalog.get, principal, process_id)
        form = ProcessForm.from_process(process)
        return _form_page(request, form, editing=True, slas=text, sla_error=error, status_code=422)
    return RedirectResponse(with_query(f"/catalog/{process_id}/edit", slas="saved"), status_code=303)


@router.post("/{process_id}/edit", include_in_schema=False)
async def update(
    request: Request, process_id: str, container: WebContainer, principal: WebPrincipal
) -> Response:
    form = ProcessForm.from_mapping(dict(await request.form()))
    form.id = process_id  # the id is the key; the form shows it read-only
    try:
        process = to_process(form)
        await run_in_threadpool(container.catalog.update, principal, process)
    except InvalidInput as error:
        text = _sla_text(await run_in_threadpool(container.catalog.slas, principal, process_id))
        return _form_page(request, form, editing=True, error=error, status_code=422, slas=text)
    except Conflict as stale:
        text = _sla_text(await run_in_threadpool(container.catalog.slas, principal, process_id))
        return _form_page(request, form, editing=True, conflict=stale, status_code=409, slas=text)
    return RedirectResponse(with_query("/catalog", msg="updated", id=process_id), status_code=303)


@router.get("/{process_id}/delete", include_in_schema=False)
def delete_confirm(
    request: Request, process_id: str, container: WebContainer, principal: WebPrincipal
) -> Response:
    """A confirmation page rather than a ``confirm()`` dialog: it works without JavaScript."""
    principal.require("catalog:write")
    process = container.catalog.get(principal, process_id)
    return render(request, "catalog/delete.html", {"process": process})


@router.post("/{process_id}/delete", include_in_schema=False)
def delete(process_id: str, container: WebContainer, principal: WebPrincipal) -> Response:
    container.catalog.delete(principal, process_id)
    return RedirectResponse(with_query("/catalog", msg="deleted", id=process_id), status_code=303)
