"""``/api/v1/systems``: the systems registry (create, read, replace, delete, test the connection).

Credentials are write-only: accepted in a request body, sealed by the service before storage, never
in an answer (only ``"credentials": "set"`` and the key id), never in the audit trail or a log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.api.auth import ContainerDep, CurrentPrincipal
from isthmus.integration import SystemKind

router = APIRouter(tags=["integration"])


class SystemBody(BaseModel):
    """``credentials``: omitted (or null) keeps those already set; ``{}`` removes them."""

    kind: SystemKind
    owner: str = Field(default="", max_length=200)
    settings: dict[str, Any] = {}
    credentials: dict[str, Any] | None = None

    def __repr__(self) -> str:  # never let the secrets reach a log through a repr
        return f"SystemBody(kind={self.kind!r}, owner={self.owner!r}, settings={self.settings!r})"


class NewSystem(SystemBody):
    name: str = Field(min_length=1, max_length=100)


@router.get("/systems")
async def list_systems(container: ContainerDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    found = await run_in_threadpool(container.systems.list, principal)
    return [s.as_dict() for s in found]


@router.get("/systems/{name}")
async def show_system(name: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    found = await run_in_threadpool(container.systems.get, principal, name)
    return found.as_dict()


def _register(
    container: ContainerDep, principal: CurrentPrincipal, name: str, body: SystemBody, *, create: bool
) -> Any:
    return container.systems.register(
        principal,
        name,
        body.kind,
        owner=body.owner,
        settings=body.settings,
        credentials=body.credentials,
        create=create,
    )


@router.post("/systems", status_code=201)
async def create_system(
    body: NewSystem, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """409 when the name is taken."""
    system = await run_in_threadpool(_register, container, principal, body.name, body, create=True)
    return dict(system.as_dict())


@router.put("/systems/{name}")
async def replace_system(
    name: str, body: SystemBody, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """404 for an unknown name; credentials kept unless given."""
    system = await run_in_threadpool(_register, container, principal, name, body, create=False)
    return dict(system.as_dict())


@router.delete("/systems/{name}", status_code=204)
async def delete_system(name: str, container: ContainerDep, principal: CurrentPrincipal) -> Response:
    await run_in_threadpool(container.systems.delete, principal, name)
    return Response(status_code=204)


@router.post("/systems/{name}/test")
async def test_system(name: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Reach the system with its connector (``settings.connector``); ``ok`` false is an answer, not an error."""
    check = await run_in_threadpool(container.systems.test_connection, principal, name)
    return check.as_dict()
