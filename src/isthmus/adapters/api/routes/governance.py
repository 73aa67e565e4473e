"""Audit trail, users and jobs over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.api.auth import SESSION_COOKIE, ContainerDep, CurrentPrincipal, client_address
from isthmus.adapters.api.pagination import Page
from isthmus.jobs import JobState
from isthmus.security import Role

router = APIRouter()


@router.get("/audit", response_model=Page, tags=["audit"])
def audit_records(
    container: ContainerDep,
    principal: CurrentPrincipal,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    records, total = container.audit.search(
        principal,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return {"items": [r.as_dict() for r in records], "total": total, "limit": limit, "offset": offset}


@router.get("/audit/verify", tags=["audit"])
def audit_verify(container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.audit.verify(principal).as_dict()


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=256)


@router.post("/session", tags=["auth"])
async def login(
    body: LoginIn, request: Request, response: Response, container: ContainerDep
) -> dict[str, Any]:
    """Sign in with a password; sets the session cookie and returns the CSRF token to echo."""
    signed = await run_in_threadpool(
        container.accounts.login, body.username, body.password, client_address(request)
    )
    set_session_cookie(
        response, signed.cookie, secure=container.settings.cookie_secure or request.url.scheme == "https"
    )
    return {"user": signed.user.public(), "csrf_token": signed.csrf_token}


def set_session_cookie(response: Response, value: str, *, secure: bool) -> None:
    # HttpOnly: scripts cannot read it; SameSite=Lax: not sent on cross-site POSTs.
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
async def logout(request: Request, container: ContainerDep, principal: CurrentPrincipal) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(container.accounts.logout, cookie)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", tags=["auth"])
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "actor": principal.actor,
        "kind": principal.kind.value,
        "display_name": principal.display_name,
        "roles": sorted(r.value for r in principal.roles),
    }


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    roles: list[Role] = Field(min_length=1)
    display_name: str = Field("", max_length=200)


@router.get("/users", tags=["users"])
def users(container: ContainerDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [u.public() for u in container.accounts.users(principal)]


@router.post("/users", status_code=status.HTTP_201_CREATED, tags=["users"])
def add_user(body: UserIn, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.accounts.add_user(
        principal, body.username, body.password, set(body.roles), body.display_name
    ).public()


class RolesIn(BaseModel):
    roles: list[Role]


@router.put("/users/{username}/roles", tags=["users"])
def set_roles(
    username: str, body: RolesIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return container.accounts.set_roles(principal, username, set(body.roles)).public()


class TokenIn(BaseModel):
    name: str = Field("api", min_length=1, max_length=200)
    expires_days: int | None = Field(None, ge=1, le=3650)


@router.post("/users/{username}/tokens", status_code=status.HTTP_201_CREATED, tags=["users"])
def issue_token(
    username: str, body: TokenIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, str]:
    expires = timedelta(days=body.expires_days) if body.expires_days else None
    return {"token": container.accounts.issue_token(principal, username, body.name, expires)}


@router.get("/jobs", tags=["jobs"])
def jobs(
    container: ContainerDep,
    principal: CurrentPrincipal,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return [j.as_dict() for j in container.jobs.find(principal, state, limit)]


@router.post("/jobs/{job_id}/retry", tags=["jobs"])
def retry_job(job_id: int, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return container.jobs.retry(principal, job_id).as_dict()
