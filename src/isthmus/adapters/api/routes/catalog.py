"""``/api/v1/processes``: table 1 over HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.api.auth import ContainerDep, CurrentPrincipal
from isthmus.adapters.api.pagination import Page
from isthmus.catalog import NodeSla, Priority, PriorityScores, Process, ProcessId, ProcessQuery, SortField
from isthmus.errors import InvalidInput, PayloadTooLarge

router = APIRouter(prefix="/processes", tags=["catalog"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ScoresIn(BaseModel):
    value: int = Field(ge=1, le=5, description="Business value, 1–5")
    pain: int = Field(ge=1, le=5, description="How much it hurts today, 1–5")
    ease: int = Field(ge=1, le=5, description="How easy the change is, 1–5 (5 = easiest)")


class ProcessIn(BaseModel):
    """A table 1 row. Give ``priority`` to set it by hand, or ``scores`` to have it computed."""

    id: str = Field(min_length=1, max_length=64, examples=["SAL-ORD-001"])
    name: str = Field(min_length=1, max_length=500, examples=["销售订单处理流程"])
    department: str = Field("", max_length=500)
    system_support: str = Field("", max_length=500)
    owner: str = Field("", max_length=500)
    roles: list[str] = Field(default_factory=list, max_length=50)
    key_nodes: int = Field(0, ge=0, le=10_000)
    avg_hours: Decimal = Field(Decimal(0), ge=0, le=1_000_000, max_digits=12, decimal_places=2)
    pain_points: list[str] = Field(default_factory=list, max_length=50)
    priority: Priority | None = None
    scores: ScoresIn | None = None

    def to_domain(self, version: int = 1) -> Process:
        if self.priority is None and self.scores is None:
            raise InvalidInput(
                "priority: expected high, medium or low, or scores to compute it", field="priority"
            )
        scores = PriorityScores(**self.scores.model_dump()) if self.scores else None
        return Process(
            id=ProcessId(self.id),
            name=self.name,
            department=self.department,
            system_support=self.system_support,
            owner=self.owner,
            roles=tuple(self.roles),
            key_nodes=self.key_nodes,
            avg_hours=self.avg_hours,
            pain_points=tuple(self.pain_points),
            priority=self.priority or Priority.MEDIUM,
            priority_manual=self.priority is not None,
            scores=scores,
            version=version,
        )


class ProcessUpdate(ProcessIn):
    version: int = Field(ge=1, description="The version you read; a different stored version is a 409.")


class NodeSlaIn(BaseModel):
    node: str = Field(min_length=1, max_length=200, examples=["审核订单"])
    duration: str = Field(min_length=2, max_length=64, examples=["PT4H"], description="ISO 8601 duration")


class SlasIn(BaseModel):
    """The whole list: it replaces the stored one (an empty list removes every SLA)."""

    slas: list[NodeSlaIn] = Field(max_length=200)


class ImportReportOut(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]


@router.get("", response_model=Page)
def list_processes(
    container: ContainerDep,
    principal: CurrentPrincipal,
    search: str = "",
    department: str | None = None,
    owner: str | None = None,
    priority: Priority | None = None,
    sort: SortField = SortField.ID,
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    query = ProcessQuery(
        search=search,
        department=department,
        owner=owner,
        priority=priority,
        sort=sort,
        descending=order == "desc",
        limit=limit,
        offset=offset,
    )
    items, total = container.catalog.query(principal, query)
    return {"items": [p.as_record() for p in items], "total": total, "limit": limit, "offset": offset}


@router.post("", status_code=status.HTTP_201_CREATED)
def create_process(body: ProcessIn, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.catalog.create(principal, body.to_domain()).as_record()


@router.get("/export")
def export_processes(
    container: ContainerDep,
    principal: CurrentPrincipal,
    format: Literal["xlsx", "csv"] = "xlsx",
    language: Literal["zh_CN", "en"] = "zh_CN",
) -> Response:
    data = container.catalog.export(principal, format, language)
    media = XLSX if format == "xlsx" else "text/csv; charset=utf-8"
    filename = f"process-catalog.{format}"
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.post("/import", response_model=ImportReportOut)
async def import_processes(
    container: ContainerDep, principal: CurrentPrincipal, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    limit = container.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
    report = await run_in_threadpool(
        container.catalog.import_file, principal, data, file.filename or "upload.xlsx"
    )
    return report.as_dict()


@router.get("/{process_id}")
def get_process(process_id: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.catalog.get(principal, process_id).as_record()


@router.put("/{process_id}")
def update_process(
    process_id: str, body: ProcessUpdate, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    if body.id != process_id:
        raise InvalidInput(
            "id: the body's id {body_id} differs from the path's {path_id}",
            field="id",
            body_id=body.id,
            path_id=process_id,
        )
    return container.catalog.update(principal, body.to_domain(version=body.version)).as_record()


@router.delete("/{process_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_process(process_id: str, container: ContainerDep, principal: CurrentPrincipal) -> Response:
    container.catalog.delete(principal, process_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{process_id}/slas")
def get_slas(process_id: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The process's key nodes with their SLAs (ISO 8601 durations and seconds)."""
    slas = container.catalog.slas(principal, process_id)
    return {"process_id": process_id, "slas": [s.as_dict() for s in slas]}


@router.put("/{process_id}/slas")
def put_slas(
    process_id: str, body: SlasIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Replace the process's SLA list (audited as ``catalog.slas``)."""
    slas = container.catalog.set_slas(principal, process_id, [NodeSla(s.node, s.duration) for s in body.slas])
    return {"process_id": process_id, "slas": [s.as_dict() for s in slas]}
