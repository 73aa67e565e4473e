"""Discover › event logs: the list and upload, and a log page with its statistics, an interactive
process map, the variant explorer, waiting versus service time, bottlenecks, SLA breaches, and the
link to the catalog with pain-point proposals the owner accepts or edits.

The process map is an ECharts graph whose coordinates are computed here
(:func:`isthmus.mining.map_layout`, left to right); ``static/js/mining-map.js`` filters it by path
coverage, toggles frequency/performance labels and lists an edge's cases from
``/api/v1/logs/{id}/edges``. Data reaches the scripts as JSON ``<script>`` blocks (CSP: no inline JS).

The heat map shows a deployed model in the bpmn-js viewer (the vendored modeler bundle's
``NavigatedViewer``); ``static/js/mining-heatmap.js`` reads ``/api/v1/logs/{id}/heatmap`` and colours
each node by the waiting time of its activity. SLA breaches use the SLAs of the catalog process
the log is linked to, plus those typed on the page (see ``services/mining.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from isthmus import mining
from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._redirects import with_query
from isthmus.adapters.web._templates import render
from isthmus.bootstrap import Container
from isthmus.errors import InvalidInput, IsthmusError, PayloadTooLarge
from isthmus.i18n import N_
from isthmus.mining import ColumnMapping
from isthmus.models import DeployedProcess
from isthmus.security import Principal
from isthmus.services.mining import MiningService, SlaSource

router = APIRouter(prefix="/logs", route_class=WebRoute)
register_page(Page(Stage.DISCOVER, "logs", N_("Event logs"), "/logs", "log:read"))

SLA_SOURCES = {
    SlaSource.CATALOG.value: N_("Catalog"),
    SlaSource.MODEL.value: N_("Model"),
    SlaSource.GIVEN.value: N_("Typed here"),
}
MAPPING_FIELDS = ("case", "activity", "timestamp", "start", "resource", "system", "encoding")
TOP_VARIANTS = 20
CHUNK = 1024 * 1024


@router.get("", include_in_schema=False)
def log_list(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    logs = container.mining.list(principal)
    return render(request, "mining/list.html", {"logs": logs, "import_error": None, "values": {}})


@router.post("", include_in_schema=False)
async def log_upload(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    file: Annotated[UploadFile | None, File()] = None,
    case: Annotated[str, Form()] = "",
    activity: Annotated[str, Form()] = "",
    timestamp: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    resource: Annotated[str, Form()] = "",
    system: Annotated[str, Form()] = "",
    encoding: Annotated[str, Form()] = "",
) -> Response:
    """Import the uploaded log and open it; a bad file shows the list again with the error."""
    values = dict(
        zip(MAPPING_FIELDS, (case, activity, timestamp, start, resource, system, encoding), strict=True)
    )
    mapping = ColumnMapping(**{k: v.strip() for k, v in values.items() if v.strip()})
    try:
        if file is None or not file.filename:
            raise InvalidInput("choose an event log file to import")
        limit = container.settings.max_upload_bytes
        with tempfile.TemporaryDirectory(prefix="isthmus-upload-") as folder:
            path = Path(folder) / Path(file.filename).name
            size = 0
            with path.open("wb") as out:
                while chunk := await file.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
                    out.write(chunk)
            stored = await run_in_threadpool(container.mining.import_file, principal, path, mapping=mapping)
    except InvalidInput as error:
        logs = await run_in_threadpool(container.mining.list, principal)
        context = {"logs": logs, "import_error": error, "values": values}
        return render(request, "mining/list.html", context, status_code=422)
    return RedirectResponse(with_query(f"/logs/{stored.id}", imported="1"), status_code=303)


def _models(container: Container, principal: Principal) -> list[DeployedProcess]:
    return container.models.list(principal) if _can(principal, "model:read") else []


def _slas(text: str) -> dict[str, str]:
    """``activity = PT10M`` lines (also ``activity: PT10M``) into a mapping."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, duration = line.rpartition("=") if "=" in line else line.rpartition(":")
        if not sep or not name.strip():
            raise InvalidInput("SLA line {line}: write “activity = PT10M”", line=number)
        mining.parse_duration(duration)
        found[name.strip()] = duration.strip()
    return found


def _map_data(service: MiningService, principal: Principal, log_id: str) -> dict[str, Any]:
    log = service.load(principal, log_id)
    graph = mining.performance_dfg(log)
    frequency = mining.dfg(log)
    positions = mining.map_layout(frequency)
    counts = frequency.activities
    nodes = [{"id": n, "col": c, "row": r, "count": counts.get(n, 0)} for n, (c, r) in positions.items()]
    edges = [
        {"source": s, "target": t, "count": p.count, "mean_s": p.mean_s, "median_s": p.median_s}
        for (s, t), p in graph.edges.items()
    ]
    edges += [
        {"source": "__start", "target": a, "count": n, "mean_s": None, "median_s": None}
        for a, n in graph.start.items()
    ]
    edges += [
        {"source": a, "target": "__end", "count": n, "mean_s": None, "median_s": None}
        for a, n in graph.end.items()
    ]
    return {"nodes": nodes, "edges": edges, "log_id": log_id}


@router.get("/{log_id}", include_in_schema=False)
def log_page(
    request: Request,
    log_id: str,
    container: WebContainer,
    principal: WebPrincipal,
    sla: str = "",
    imported: str = "",
    model: str = "",
) -> Response:
    service = container.mining
    stored = service.get(principal, log_id)
    log = service.load(principal, log_id)
    sla_error: IsthmusError | None = None
    slas: dict[str, str] = {}
    try:
        slas = _slas(sla)
    except InvalidInput as error:
        sla_error = error
    variants = mining.variants(log)
    waiting = mining.waiting(log)
    context: dict[str, Any] = {
        "log": stored,
        "imported": bool(imported),
        "map": _map_data(service, principal, log_id),
        "variants": variants[:TOP_VARIANTS],
        "variant_total": len(variants),
        "cases": stored.statistics.cases,
        "waiting": waiting["activities"],
        "waiting_share": waiting["waiting_share"],
        "chart": {
            "activities": [a["activity"] for a in waiting["activities"]],
            "waiting_h": [a["waiting_total_s"] / 3600 for a in waiting["activities"]],
            "service_h": [a["service_total_s"] / 3600 for a in waiting["activities"]],
        },
        "bottlenecks": mining.bottlenecks(log, top=10)["by_total"],
        "sla_text": sla,
        "sla_error": sla_error,
        "breaches": service.sla(principal, log_id, slas),
        "catalog_slas": _catalog_sla_count(service, principal, log_id),
        "proposals": service.proposals(principal, log_id, slas=slas) if not sla_error else [],
        "processes": container.catalog.all(principal) if _can(principal, "catalog:read") else [],
        "models": _models(container, principal),
        "heat_model": model,
        "sla_sources": SLA_SOURCES,
    }
    return render(request, "mining/log.html", context)


def _catalog_sla_count(service: MiningService, principal: Principal, log_id: str) -> int:
    return sum(1 for s in service.slas(principal, log_id).values() if s.source is SlaSource.CATALOG)


def _can(principal: Principal, permission: str) -> bool:
    try:
        principal.require(permission)
    except IsthmusError:
        return False
    return True


@router.post("/{log_id}/link", include_in_schema=False)
def log_link(
    log_id: str,
    container: WebContainer,
    principal: WebPrincipal,
    process_id: Annotated[str, Form()],
    key_node_share: Annotated[float, Form()] = 0.0,
) -> Response:
    container.mining.link(principal, log_id, process_id, key_node_share=key_node_share / 100)
    return RedirectResponse(f"/catalog/{process_id}/edit?linked={log_id}", status_code=303)


@router.post("/{log_id}/accept", include_in_schema=False)
async def log_accept(
    request: Request, log_id: str, container: WebContainer, principal: WebPrincipal
) -> Response:
    """Accepted proposals (checked, as edited) are appended to the process's pain points."""
    form = await request.form()
    process_id = str(form.get("process_id") or "")
    chosen = {str(v) for v in form.getlist("accept")}
    texts = [
        str(form.get(f"text-{i}") or "") for i in sorted(chosen, key=lambda x: int(x) if x.isdigit() else 0)
    ]
    if not process_id or not any(t.strip() for t in texts):
        raise InvalidInput("choose a process and at least one pain point")
    await run_in_threadpool(container.mining.get, principal, log_id)
    await run_in_threadpool(container.mining.accept, principal, process_id, texts)
    return RedirectResponse(f"/catalog/{process_id}/edit?accepted={len(texts)}", status_code=303)
