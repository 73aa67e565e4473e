"""Connect › Systems: the registry of the systems flows talk to — list, add, edit, delete, and a
"test connection" button that asks the system's connector to reach it.

Credentials are typed into the form and sealed by the service; the page never shows them back (the
field is always empty: leaving it empty keeps the credentials already set). Settings and
credentials are ``KEY=VALUE`` lines, as ``isthmus system add --setting`` takes them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.web._catalog_form import field_errors
from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._templates import is_htmx, render
from isthmus.errors import InvalidInput, IsthmusError, Location
from isthmus.i18n import N_
from isthmus.integration import System, SystemKind
from isthmus.services.systems import CONNECTOR_SETTING

router = APIRouter(prefix="/systems", route_class=WebRoute)
register_page(Page(Stage.CONNECT, "systems", N_("Systems"), "/systems", "system:read"))

CONNECTORS = ("", "http", "jsonrpc", "xmlrpc", "soap", "sql", "files")
KIND_LABELS = {
    SystemKind.ERP: N_("ERP"),
    SystemKind.CRM: N_("CRM"),
    SystemKind.OA: N_("OA"),
    SystemKind.HR: N_("HR"),
    SystemKind.FINANCE: N_("Finance"),
    SystemKind.OTHER: N_("Other"),
}


def parse_lines(text: str, field: str) -> dict[str, str]:
    """``KEY=VALUE`` per line (blank lines and ``#`` comments skipped); errors name the line."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(
                "line {line}: expected KEY=VALUE", location=Location(field=field, line=number), line=number
            )
        found[key.strip()] = value.strip()
    return found


def _form(system: System | None = None) -> dict[str, str]:
    if system is None:
        return {"name": "", "kind": SystemKind.ERP.value, "owner": "", "connector": "", "settings": ""}
    settings = {k: v for k, v in system.settings.items() if k != CONNECTOR_SETTING}
    return {
        "name": system.name,
        "kind": system.kind.value,
        "owner": system.owner,
        "connector": str(system.settings.get(CONNECTOR_SETTING, "")),
        "settings": "\n".join(f"{k}={v}" for k, v in settings.items()),
    }


def _list_page(request: Request, container: WebContainer, principal: WebPrincipal, **extra: Any) -> Response:
    systems = container.systems.list(principal)
    context = {"systems": systems, "kind_labels": KIND_LABELS, "check": None, "connector": CONNECTOR_SETTING}
    return render(request, "systems/list.html", context | extra)


@router.get("", include_in_schema=False)
def systems_list(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    principal.require("system:read")
    return _list_page(request, container, principal)


def _form_page(
    request: Request,
    form: dict[str, str],
    *,
    editing: System | None,
    error: IsthmusError | None = None,
) -> Response:
    context = {
        "form": form,
        "editing": editing,
        "kinds": list(SystemKind),
        "kind_labels": KIND_LABELS,
        "connectors": CONNECTORS,
        "errors": _by_input(error) if error else {},
    }
    return render(request, "systems/form.html", context, status_code=422 if error else 200)


def _by_input(error: IsthmusError) -> dict[str, list[IsthmusError]]:
    """``settings.password`` is a problem of the settings box: group by the form's inputs."""
    grouped: dict[str, list[IsthmusError]] = {}
    for field, problems in field_errors(error).items():
        grouped.setdefault(field.split(".")[0], []).extend(problems)
    return grouped


@router.get("/new", include_in_schema=False)
def new_form(request: Request, principal: WebPrincipal) -> Response:
    principal.require("system:write")
    return _form_page(request, _form(), editing=None)


async def _save(
    request: Request, container: WebContainer, principal: WebPrincipal, editing: System | None
) -> Response:
    data = await request.form()
    form = {k: str(data.get(k, "")).strip() for k in ("name", "kind", "owner", "connector", "settings")}
    if editing is not None:
        form["name"] = editing.name
    credentials_text = str(data.get("credentials", ""))
    try:
        try:
            kind = SystemKind(form["kind"])
        except ValueError as exc:
            raise InvalidInput("expected one of the kinds", location=Location(field="kind")) from exc
        settings: dict[str, Any] = parse_lines(form["settings"], "settings")
        if form["connector"]:
            settings[CONNECTOR_SETTING] = form["connector"]
        credentials: dict[str, Any] | None = parse_lines(credentials_text, "credentials") or None
        if editing is not None and data.get("clear_credentials") == "on":
            credentials = {}
        await run_in_threadpool(
            lambda: container.systems.register(
                principal,
                form["name"],
                kind,
                owner=form["owner"],
                settings=settings,
                credentials=credentials,
                create=editing is None,
            )
        )
    except InvalidInput as error:
        return _form_page(request, form, editing=editing, error=error)
    except IsthmusError as error:
        if error.code != "conflict":
            raise
        located = InvalidInput(error.message, location=Location(field="name"))
        return _form_page(request, form, editing=editing, error=located)
    return RedirectResponse("/systems", status_code=303)


@router.post("/new", include_in_schema=False)
async def create(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    principal.require("system:write")
    return await _save(request, container, principal, None)


@router.get("/{name}/edit", include_in_schema=False)
def edit_form(name: str, request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    principal.require("system:write")
    system = container.systems.get(principal, name)
    return _form_page(request, _form(system), editing=system)


@router.post("/{name}/edit", include_in_schema=False)
async def update(name: str, request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    principal.require("system:write")
    system = await run_in_threadpool(container.systems.get, principal, name)
    return await _save(request, container, principal, system)


@router.post("/{name}/test", include_in_schema=False)
async def test_connection(
    name: str, request: Request, container: WebContainer, principal: WebPrincipal
) -> Response:
    """htmx swaps the result in beside the button; without JavaScript the list shows it on top."""
    try:
        check = await run_in_threadpool(container.systems.test_connection, principal, name)
    except InvalidInput as error:
        result: dict[str, Any] = {"system": name, "ok": False, "error": error}
    else:
        result = check.as_dict() | {"error": None}
    if is_htmx(request):
        return render(request, "systems/_check.html", {"check": result})
    return _list_page(request, container, principal, check=result)


@router.post("/{name}/delete", include_in_schema=False)
def delete(name: str, container: WebContainer, principal: WebPrincipal) -> Response:
    container.systems.delete(principal, name)
    return RedirectResponse("/systems", status_code=303)
