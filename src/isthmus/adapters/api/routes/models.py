"""``/api/v1/models``: BPMN process models — deploy, save drafts, validate, versions, XML, diff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.api.auth import ContainerDep, CurrentPrincipal
from isthmus.adapters.api.pagination import Page
from isthmus.adapters.api.uploads import read_xml_upload, xml_upload_doc
from isthmus.models import DeployedProcess

router = APIRouter(prefix="/models", tags=["models"])

_UPLOAD_DOC = xml_upload_doc("bpmn")


def _versions(found: list[DeployedProcess]) -> list[dict[str, Any]]:
    keep = {"version", "hash", "draft", "deployed_at", "deployed_by", "filename"}
    return [{k: v for k, v in p.summary().items() if k in keep} for p in found]


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_DOC)
async def deploy_model(
    request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Deploy every executable process of a BPMN file as the next version of its key.

    A model with validation errors is refused (422) with every problem in ``errors``.
    """
    data, name = await read_xml_upload(request, container.settings.max_upload_bytes, suffix="bpmn")
    deployment = await run_in_threadpool(container.models.deploy, principal, data, name)
    return deployment.as_dict()


@router.post("/drafts", status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_DOC)
async def save_draft(
    request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Save a BPMN file as a new draft version of its main process (it need not be valid yet)."""
    data, name = await read_xml_upload(request, container.settings.max_upload_bytes, suffix="bpmn")
    stored, problems = await run_in_threadpool(container.models.save_draft, principal, data, name)
    return stored.summary() | {"problems": [p.as_dict() for p in problems]}


@router.post("/validate", openapi_extra=_UPLOAD_DOC)
async def validate_model(
    request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Check a BPMN file without storing it: ``valid`` and every problem (id, line, message)."""
    data, name = await read_xml_upload(request, container.settings.max_upload_bytes, suffix="bpmn")
    problems = await run_in_threadpool(container.models.validate, principal, data, name)
    return {"valid": not any(p.is_error for p in problems), "problems": [p.as_dict() for p in problems]}


@router.get("", response_model=Page)
def list_models(
    container: ContainerDep,
    principal: CurrentPrincipal,
    drafts: Annotated[bool, Query(description="Include keys and versions that are drafts.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The latest version of every process definition."""
    found = container.models.list(principal, include_drafts=drafts)
    items = [p.summary() for p in found[offset : offset + limit]]
    return {"items": items, "total": len(found), "limit": limit, "offset": offset}


@router.get("/{key}")
def get_model(key: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The latest version (a draft when it is the newest), and every version, oldest first."""
    found = container.models.versions(principal, key)
    return found[-1].summary() | {"versions": _versions(found)}


@router.get("/{key}/versions")
def get_versions(key: str, container: ContainerDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """Every version of a process (drafts included), oldest first."""
    return [p.summary() for p in container.models.versions(principal, key)]


@router.get("/{key}/xml", response_class=Response, responses={200: {"content": {"application/xml": {}}}})
def get_model_xml(
    key: str,
    container: ContainerDep,
    principal: CurrentPrincipal,
    version: Annotated[
        int | None, Query(ge=1, description="A stored version; the latest deployed when absent.")
    ] = None,
) -> Response:
    """The BPMN XML of a version, byte for byte as deployed (diagram and extensions included)."""
    found = container.models.get(principal, key, version)
    return Response(
        found.content,
        media_type="application/xml",
        headers={"Content-Disposition": f'inline; filename="{found.key}-v{found.version}.bpmn"'},
    )


@router.get("/{key}/diff")
def diff_versions(
    key: str,
    container: ContainerDep,
    principal: CurrentPrincipal,
    v1: Annotated[int, Query(ge=1, alias="from")],
    v2: Annotated[int, Query(ge=1, alias="to")],
) -> dict[str, Any]:
    """Nodes and flows added, removed and changed from version ``from`` to version ``to``."""
    return {"key": key, "from": v1, "to": v2, **container.models.diff(principal, key, v1, v2).as_dict()}
