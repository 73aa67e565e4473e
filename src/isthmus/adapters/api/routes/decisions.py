"""``/api/v1/decisions``: deploy DMN models as numbered versions, read them back, evaluate them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.api.auth import ContainerDep, CurrentPrincipal
from isthmus.adapters.api.pagination import Page
from isthmus.adapters.api.uploads import read_xml_upload, xml_upload_doc

router = APIRouter(prefix="/decisions", tags=["decisions"])

_UPLOAD_DOC = xml_upload_doc("dmn")


class EvaluateIn(BaseModel):
    decision: str = Field(min_length=1, max_length=500, examples=["Approval route"])
    inputs: dict[str, Any] = Field(default_factory=dict, examples=[{"amount": 120000}])
    version: int | None = Field(None, ge=1, description="A stored version; the latest when null.")


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_DOC)
async def deploy_decision_model(
    request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Deploy a DMN model as the next version of its key (the same XML as the latest: that version)."""
    data, name = await read_xml_upload(request, container.settings.max_upload_bytes, suffix="dmn")
    model = await run_in_threadpool(container.decisions.deploy, principal, data, name)
    return model.summary()


@router.get("", response_model=Page)
def list_decision_models(
    container: ContainerDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The latest version of every deployed model."""
    models = container.decisions.list(principal)
    items = [m.summary() for m in models[offset : offset + limit]]
    return {"items": items, "total": len(models), "limit": limit, "offset": offset}


@router.get("/{key}")
def get_decision_model(key: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The latest version, and every version (oldest first)."""
    versions = container.decisions.versions(principal, key)
    latest = versions[-1].summary()
    latest["versions"] = [
        {k: v for k, v in m.summary().items() if k in {"version", "hash", "deployed_at", "deployed_by"}}
        for m in versions
    ]
    return latest


@router.get("/{key}/xml", response_class=Response, responses={200: {"content": {"application/xml": {}}}})
def get_decision_model_xml(
    key: str,
    container: ContainerDep,
    principal: CurrentPrincipal,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The DMN XML of a version (the latest by default), e.g. for dmn-js."""
    model = container.decisions.get(principal, key, version)
    return Response(
        model.content,
        media_type="application/xml",
        headers={"Content-Disposition": f'inline; filename="{model.key}-v{model.version}.dmn"'},
    )


@router.post("/{key}/evaluate")
def evaluate_decision(
    key: str, body: EvaluateIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Evaluate a decision or decision service (by name or id) of a deployed model."""
    return container.decisions.evaluate(principal, key, body.decision, body.inputs, body.version)
