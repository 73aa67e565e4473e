"""``/api/v1/logs``: import event logs, read their statistics, run analyses, check conformance,
export the as-is BPMN, colour a deployed model by mined waiting time (the heat map), link a log to
the catalog and turn its findings into pain points.

Uploads are streamed to a temporary file (never held in memory whole) and imported from there;
the body limit is ``ISTHMUS_MAX_UPLOAD_BYTES``.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from isthmus.adapters.api.auth import ContainerDep, CurrentPrincipal
from isthmus.adapters.api.pagination import Page
from isthmus.bootstrap import Container
from isthmus.errors import InvalidInput, PayloadTooLarge
from isthmus.mining import ColumnMapping, Selection, TimeMode, slas_from_bpmn
from isthmus.mining._heatmap import HeatMetric
from isthmus.security import Principal

router = APIRouter(prefix="/logs", tags=["mining"])

CHUNK = 1024 * 1024
MAPPING_FIELDS = (
    "case",
    "activity",
    "timestamp",
    "start",
    "lifecycle",
    "resource",
    "system",
    "encoding",
    "delimiter",
    "timestamp_format",
    "object_type",
)
_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The log as multipart field `file` (CSV, XES, XES.gz, Parquet, OCEL 2.0), with optional "
        "form fields naming columns: " + ", ".join(MAPPING_FIELDS) + ", timezone.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}}
                    | {name: {"type": "string"} for name in (*MAPPING_FIELDS, "timezone")},
                    "required": ["file"],
                }
            }
        },
    }
}


class SlaIn(BaseModel):
    slas: dict[str, str] = Field(
        default_factory=dict,
        description="ISO 8601 duration per activity",
        examples=[{"Check stock": "PT10M"}],
    )


class LinkIn(BaseModel):
    process_id: str = Field(min_length=1, max_length=64, examples=["SAL-ORD-001"])
    key_node_share: float = Field(0.0, ge=0.0, le=1.0, description="0: every distinct activity is a key node")


class AcceptIn(BaseModel):
    process_id: str = Field(min_length=1, max_length=64)
    pain_points: list[str] = Field(min_length=1, max_length=50)


async def _spool(upload: UploadFile, limit: int, folder: str) -> Path:
    name = Path(upload.filename or "upload.csv").name
    target = Path(folder) / name
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
            out.write(chunk)
    return target


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_DOC)
async def import_log(
    request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Import an event log; 201 with its id and statistics. A bad file registers nothing."""
    principal.require("log:import")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise InvalidInput(
            "expected a multipart upload with the log in field 'file', got {kind!r}", kind=kind
        )
    form = await request.form(max_part_size=container.settings.max_upload_bytes + 1)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("file: expected an event log in the multipart field 'file'", field="file")
        options = {
            k: str(v) for k in (*MAPPING_FIELDS, "timezone") if isinstance(v := form.get(k), str) and v
        }
        mapping = ColumnMapping(**options)
        with tempfile.TemporaryDirectory(prefix="isthmus-upload-") as folder:
            path = await _spool(upload, container.settings.max_upload_bytes, folder)
            stored = await run_in_threadpool(container.mining.import_file, principal, path, mapping=mapping)
    finally:
        await form.close()
    return stored.summary()


@router.post("/engine-history", status_code=status.HTTP_201_CREATED)
def import_engine_history(container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Register the engine's history (every instance it ran) as an event log."""
    return container.mining.import_engine_history(principal).summary()


@router.get("", response_model=Page)
def list_logs(
    container: ContainerDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Imported logs, newest first, with their statistics."""
    logs = container.mining.list(principal)
    return {
        "items": [log.summary() for log in logs[offset : offset + limit]],
        "total": len(logs),
        "limit": limit,
        "offset": offset,
    }


@router.get("/{log_id}")
def get_log(log_id: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.mining.get(principal, log_id).summary()


@router.get("/{log_id}/edges")
def edge_cases(
    log_id: str,
    container: ContainerDep,
    principal: CurrentPrincipal,
    source: Annotated[str, Query(min_length=1)],
    target: Annotated[str, Query(min_length=1)],
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> dict[str, Any]:
    """The cases in which ``target`` directly follows ``source`` (a click on the process map)."""
    return container.mining.edge_cases(principal, log_id, source, target, limit)


@router.get("/{log_id}/bpmn", response_class=Response)
def as_is_bpmn(
    log_id: str,
    container: ContainerDep,
    principal: CurrentPrincipal,
    coverage: Annotated[float, Query(gt=0, le=1)] = 0.8,
) -> Response:
    """The discovered process as a laid-out BPMN 2.0 file (paths covering ``coverage`` of transitions)."""
    xml = container.mining.as_is_bpmn(principal, log_id, coverage)
    return Response(
        xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="as-is-{log_id}.bpmn"'},
    )


@router.get("/{log_id}/heatmap")
async def heatmap(
    log_id: str,
    container: ContainerDep,
    principal: CurrentPrincipal,
    model: Annotated[str, Query(min_length=1, max_length=200, description="A deployed process model key")],
    version: Annotated[int | None, Query(ge=1, description="default: the latest deployed version")] = None,
    metric: Annotated[HeatMetric, Query(description="colour by the mean or the p90 wait")] = HeatMetric.MEAN,
) -> dict[str, Any]:
    """A deployed model's flow nodes with the waiting time, service time, count and SLA breaches of
    the activity each maps to (by name, then id), a colour level 1–5, and the model's XML for
    bpmn-js. Nodes without a matching activity have ``activity: null``; shape in docs/mining.md."""
    deployed = await run_in_threadpool(container.models.get, principal, model, version)
    found = await run_in_threadpool(
        container.mining.heatmap, principal, log_id, deployed.content, f"{model}.bpmn", metric=metric
    )
    xml = deployed.content.decode("utf-8", errors="replace")
    return (
        {"model": {"key": deployed.key, "version": deployed.version, "name": deployed.name}}
        | found
        | {"xml": xml}
    )


@router.get("/{log_id}/{analysis}")
def analyse(
    log_id: str,
    analysis: str,
    container: ContainerDep,
    principal: CurrentPrincipal,
    top: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    start: Annotated[datetime | None, Query(alias="from", description="time window start (ISO 8601)")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="time window end (ISO 8601)")] = None,
    time_mode: Annotated[TimeMode, Query(description="how the window selects")] = TimeMode.CONTAINED,
    attribute: Annotated[
        str | None, Query(max_length=200, description="keep cases with such a value")
    ] = None,
    values: Annotated[list[str] | None, Query(max_length=200)] = None,
    min_duration_s: Annotated[float | None, Query(ge=0)] = None,
    max_duration_s: Annotated[float | None, Query(ge=0)] = None,
    top_variants: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Any:
    """One analysis by name: dfg, performance, variants (``top``), durations, throughput, waiting,
    bottlenecks (``top``), rework, handover, duplicates, statistics; shapes in docs/mining.md.
    The filters (``from``/``to``, ``attribute`` + ``values``, case duration, ``top_variants``) select
    the cases analysed."""
    selection = Selection(
        start=_utc(start),
        end=_utc(end),
        time_mode=time_mode,
        attribute=attribute,
        values=tuple(values or ()),
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
        top_variants=top_variants,
    )
    options = {"top": top} if top else {}
    return container.mining.analyse(principal, log_id, analysis, selection=selection, **options)


def _utc(value: datetime | None) -> datetime | None:
    """A time without an offset is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.post("/{log_id}/sla")
async def sla(
    log_id: str,
    body: SlaIn,
    container: ContainerDep,
    principal: CurrentPrincipal,
    model: Annotated[
        str | None, Query(max_length=200, description="take SLAs from this deployed model")
    ] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Breaches of per-activity SLAs (ISO 8601 durations) by lead time (waiting + service). The SLAs
    are the linked catalog process's, overridden by the ``isthmus:sla`` of a deployed model's tasks
    (``?model=KEY``), overridden by ``slas``; each row names its ``source``."""
    model_slas = await _model_slas(container, principal, model, version)
    rows = await run_in_threadpool(container.mining.sla, principal, log_id, body.slas, model=model_slas)
    stored = await run_in_threadpool(container.mining.get, principal, log_id)
    return {"activities": rows, "process_id": stored.process_id}


async def _model_slas(
    container: Container, principal: Principal, model: str | None, version: int | None
) -> dict[str, str] | None:
    if model is None:
        return None
    deployed = await run_in_threadpool(container.models.get, principal, model, version)
    return slas_from_bpmn(deployed.content, f"{model}.bpmn")


@router.post("/{log_id}/conformance")
async def conformance(
    log_id: str,
    request: Request,
    container: ContainerDep,
    principal: CurrentPrincipal,
    model: Annotated[str | None, Query(max_length=200, description="A deployed process model key")] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Token-based replay fitness on a BPMN model: a deployed one (``?model=KEY[&version=N]``), or a
    file (multipart field ``file``) or the XML as the body."""
    if model is not None:
        deployed = await run_in_threadpool(container.models.get, principal, model, version)
        data, name = deployed.content, f"{model}.bpmn"
    else:
        data, name = await _model_upload(request, container.settings.max_upload_bytes)
    return await run_in_threadpool(container.mining.conformance, principal, log_id, data, name)


async def _model_upload(request: Request, limit: int) -> tuple[bytes, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("file: expected a .bpmn file in the multipart field 'file'", field="file")
            data, name = await upload.read(limit + 1), upload.filename or "model.bpmn"
        finally:
            await form.close()
    else:
        data, name = await request.body(), "model.bpmn"
    if len(data) > limit:
        raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
    return data, name


@router.post("/{log_id}/link")
def link(log_id: str, body: LinkIn, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Fill the catalog process's average handling hours and key node count from this log."""
    return container.mining.link(principal, log_id, body.process_id, key_node_share=body.key_node_share)


@router.post("/{log_id}/proposals")
async def proposals(
    log_id: str,
    body: SlaIn,
    container: ContainerDep,
    principal: CurrentPrincipal,
    model: Annotated[
        str | None, Query(max_length=200, description="take SLAs from this deployed model")
    ] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Pain points the log supports (bottlenecks, rework, duplicate entry, SLA breaches of the SLAs
    ``/sla`` would use)."""
    model_slas = await _model_slas(container, principal, model, version)
    found = await run_in_threadpool(
        container.mining.proposals, principal, log_id, slas=body.slas, model=model_slas
    )
    return {"proposals": [p.as_dict() for p in found]}


@router.post("/{log_id}/proposals/accept")
def accept(
    log_id: str, body: AcceptIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Write the accepted (possibly edited) pain points to the catalog process."""
    container.mining.get(principal, log_id)
    return container.mining.accept(principal, body.process_id, body.pain_points)
