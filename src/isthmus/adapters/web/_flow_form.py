"""Connect › a flow's form: create or edit a flow as YAML, or through a structured form for the common
fields (source, trigger with cron and time zone, target, mapping rows, idempotency key, delivery
policy) that writes the same YAML.

The YAML is the truth: the form reads its values from the YAML and writes them back into it, so keys
the form does not show (connector options, code tables, transforms, rules) are kept — only comments
and key order within them are lost when the form writes. Saving deploys a new version through
``FlowService.deploy`` (``flow:deploy``, audited); the parser's problems are shown next to the
field they name and, with their line, next to the YAML.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._redirects import with_query
from isthmus.adapters.web._templates import is_htmx, render
from isthmus.errors import InvalidInput, IsthmusError
from isthmus.integration import EXAMPLE

router = APIRouter(prefix="/flows", route_class=WebRoute)

CONNECTORS = ("webhook", "http", "sql", "files", "jsonrpc", "xmlrpc", "soap")
TRIGGERS = ("webhook", "poll", "cron", "manual")
TEXT_FIELDS = (
    "flow",
    "owner",
    "security",
    "go_live",
    "source_system",
    "source_connector",
    "trigger_kind",
    "poll",
    "cron",
    "timezone",
    "target_system",
    "target_connector",
    "idempotency_key",
    "attempts",
    "backoff",
    "timeout",
)
EMPTY_ROWS = 3
# The order keys are written in, as in docs/integration.md; keys the form does not know follow.
ORDER = (
    "flow",
    "name",
    "direction",
    "source",
    "target",
    "trigger",
    "code_tables",
    "mapping",
    "transforms",
    "validate",
    "idempotency_key",
    "delivery",
    "owner",
    "security",
    "go_live",
)
# The parser's dotted field → the form field that shows its problem.
_FIELD_OF = {
    "flow": "flow",
    "owner": "owner",
    "security": "security",
    "go_live": "go_live",
    "source.system": "source_system",
    "source.connector": "source_connector",
    "source": "source_system",
    "target.system": "target_system",
    "target.connector": "target_connector",
    "target": "target_system",
    "trigger.poll": "poll",
    "trigger.cron": "cron",
    "trigger": "trigger_kind",
    "idempotency_key": "idempotency_key",
    "delivery.attempts": "attempts",
    "delivery.backoff": "backoff",
    "delivery.timeout": "timeout",
    "mapping": "mapping",
}
Values = dict[str, Any]


def _mapping_of(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def values_from_yaml(text: str) -> Values:
    """The form's fields from a flow's YAML (whatever of it can be read)."""
    try:
        doc = _mapping_of(yaml.safe_load(text))
    except yaml.YAMLError:
        doc = {}
    source, target = _mapping_of(doc.get("source")), _mapping_of(doc.get("target"))
    trigger, delivery = _mapping_of(doc.get("trigger")), _mapping_of(doc.get("delivery"))
    kind = next((k for k in ("webhook", "poll", "cron") if k in trigger), "manual")
    return {
        "flow": _text(doc.get("flow")),
        "owner": _text(doc.get("owner")),
        "security": _text(doc.get("security")),
        "go_live": _text(doc.get("go_live")),
        "source_system": _text(source.get("system")),
        "source_connector": _text(source.get("connector")),
        "trigger_kind": kind,
        "poll": _text(trigger.get("poll")),
        "cron": _text(trigger.get("cron")),
        "timezone": _text(trigger.get("timezone")) or ("Asia/Shanghai" if kind == "cron" else ""),
        "target_system": _text(target.get("system")),
        "target_connector": _text(target.get("connector")),
        "idempotency_key": _text(doc.get("idempotency_key")),
        "attempts": _text(delivery.get("attempts")),
        "backoff": _text(delivery.get("backoff")),
        "timeout": _text(delivery.get("timeout")),
        "mapping": [(str(k), _text(v)) for k, v in _mapping_of(doc.get("mapping")).items()],
    }


def values_from_form(form: FormData) -> Values:
    values: Values = {name: str(form.get(name) or "").strip() for name in TEXT_FIELDS}
    targets = [str(v).strip() for v in form.getlist("map_target")]
    expressions = [str(v).strip() for v in form.getlist("map_expression")]
    values["mapping"] = [(t, e) for t, e in zip(targets, expressions, strict=False) if t or e]
    return values


def _set(doc: dict[str, Any], key: str, value: Any) -> None:
    if value in ("", None, {}):
        doc.pop(key, None)
    else:
        doc[key] = value


def _number(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def yaml_from_values(base: str, values: Values) -> str:
    """``base`` with the form's fields written into it (other keys kept), as YAML text."""
    try:
        doc = _mapping_of(yaml.safe_load(base))
    except yaml.YAMLError:
        doc = {}
    _set(doc, "flow", values["flow"])
    for side in ("source", "target"):
        node = _mapping_of(doc.get(side))
        _set(node, "system", values[f"{side}_system"])
        _set(node, "connector", values[f"{side}_connector"])
        _set(doc, side, node)
    trigger: dict[str, Any] = {}
    kind = values["trigger_kind"]
    if kind == "webhook":
        trigger = {"webhook": True}
    elif kind == "poll":
        trigger = {"poll": values["poll"] or "60s"}
    elif kind == "cron":
        trigger = {"cron": values["cron"], "timezone": values["timezone"] or "Asia/Shanghai"}
    _set(doc, "trigger", trigger)
    doc["mapping"] = {target: expression for target, expression in values["mapping"]}
    _set(doc, "idempotency_key", values["idempotency_key"])
    delivery = _mapping_of(doc.get("delivery"))
    _set(delivery, "attempts", _number(values["attempts"]))
    _set(delivery, "backoff", values["backoff"])
    _set(delivery, "timeout", values["timeout"])
    _set(doc, "delivery", delivery)
    for key in ("owner", "security"):
        _set(doc, key, values[key])
    _set(doc, "go_live", _date(values["go_live"]))
    ordered = {k: doc[k] for k in ORDER if k in doc} | {k: v for k, v in doc.items() if k not in ORDER}
    return yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False, width=100)


def _date(text: str) -> date | str:
    """A date stays a YAML date (unquoted), anything else a string for the parser to refuse."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def field_errors(error: IsthmusError) -> dict[str, list[IsthmusError]]:
    """Each problem under the form field it names (mapping rows under ``mapping``)."""
    found: dict[str, list[IsthmusError]] = {}
    for problem in error.details or [error]:
        where = problem.location.field if problem.location else None
        if not where:
            continue
        name = (
            _FIELD_OF.get(where) or _FIELD_OF.get(where.split(".")[0]) or _FIELD_OF.get(where.split("[")[0])
        )
        if name:
            found.setdefault(name, []).append(problem)
    return found


def _context(
    *,
    values: Values,
    text: str,
    editing: str | None,
    error: IsthmusError | None = None,
    preview: bool = False,
) -> dict[str, Any]:
    return {
        "values": values,
        "rows": list(values["mapping"]) + [("", "")] * EMPTY_ROWS,
        "text": text,
        "editing": editing,
        "error": error,
        "problems": (error.details or [error]) if error else [],
        "errors": field_errors(error) if error else {},
        "connectors": CONNECTORS,
        "triggers": TRIGGERS,
        "preview": preview,
    }


@router.get("/new", include_in_schema=False)
def new_flow(request: Request, principal: WebPrincipal) -> Response:
    principal.require("flow:deploy")
    context = _context(values=values_from_yaml(EXAMPLE), text=EXAMPLE, editing=None)
    return render(request, "flows/form.html", context)


@router.get("/{flow_id}/edit", include_in_schema=False)
def edit_flow(request: Request, flow_id: str, container: WebContainer, principal: WebPrincipal) -> Response:
    principal.require("flow:deploy")
    deployed, _ = container.flows.get(principal, flow_id)
    context = _context(values=values_from_yaml(deployed.text), text=deployed.text, editing=flow_id)
    return render(request, "flows/form.html", context)


async def _save(
    request: Request, container: WebContainer, principal: WebPrincipal, editing: str | None
) -> Response:
    principal.require("flow:deploy")
    form = await request.form()
    mode = str(form.get("mode") or "form")
    posted = str(form.get("yaml") or "").replace("\r\n", "\n")
    if mode == "yaml":
        values, text = values_from_yaml(posted), posted
    else:
        values = values_from_form(form)
        text = yaml_from_values(posted, values)
    if mode == "preview" and is_htmx(request, "f-yaml"):
        # The form changed: only the YAML editor is replaced (the person's own YAML keys kept).
        return render(request, "flows/_yaml.html", {"text": text, "error": None})
    if mode == "preview":
        return render(
            request, "flows/form.html", _context(values=values, text=text, editing=editing, preview=True)
        )
    try:
        filename = f"{values['flow'] or 'flow'}.yaml"
        stored = await run_in_threadpool(container.flows.deploy, principal, text, filename)
    except InvalidInput as error:
        context = _context(values=values, text=text, editing=editing, error=error)
        return render(request, "flows/form.html", context, status_code=422)
    target = with_query(f"/flows/{quote(stored.flow_id)}", deployed=str(stored.version))
    return RedirectResponse(target, status_code=303)


@router.post("/new", include_in_schema=False)
async def create_flow(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    return await _save(request, container, principal, None)


@router.post("/{flow_id}/edit", include_in_schema=False)
async def update_flow(
    request: Request, flow_id: str, container: WebContainer, principal: WebPrincipal
) -> Response:
    return await _save(request, container, principal, flow_id)


__all__ = ["router", "values_from_yaml", "yaml_from_values"]
