"""Govern: the audit trail (with chain verification), users and their roles, jobs and incidents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from isthmus.adapters.web._audit_view import diff
from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._redirects import with_query
from isthmus.adapters.web._templates import is_htmx, render
from isthmus.bootstrap import Container
from isthmus.errors import Conflict, InvalidInput, IsthmusError
from isthmus.i18n import N_
from isthmus.jobs import JobState
from isthmus.security import Principal, Role

router = APIRouter(route_class=WebRoute)
register_page(Page(Stage.GOVERN, "audit", N_("Audit trail"), "/audit", "audit:read"))
register_page(Page(Stage.GOVERN, "users", N_("Users"), "/users", "user:manage"))
register_page(Page(Stage.GOVERN, "jobs", N_("Jobs and incidents"), "/jobs", "job:read"))

AUDIT_PAGE_SIZE = 25
AUDIT_FILTERS = ("actor", "action", "object_type", "object_id")
ROLE_LABELS = {
    Role.ADMIN: N_("Administrator"),
    Role.PROCESS_OWNER: N_("Process owner"),
    Role.BUSINESS_EXPERT: N_("Business expert"),
    Role.IT_INTEGRATOR: N_("IT integrator"),
    Role.APPROVER: N_("Approver"),
    Role.AUDITOR: N_("Auditor"),
    Role.USER_REPRESENTATIVE: N_("User representative"),
    Role.VIEWER: N_("Viewer"),
}
STATE_LABELS = {
    JobState.READY: N_("Ready"),
    JobState.RUNNING: N_("Running"),
    JobState.DONE: N_("Done"),
    JobState.INCIDENT: N_("Incident"),
    JobState.CANCELLED: N_("Cancelled"),
}


# --- audit ------------------------------------------------------------------------------------
def _audit_context(request: Request, container: Container, principal: Principal) -> dict[str, Any]:
    params = request.query_params
    filters = {name: params.get(name, "").strip() for name in AUDIT_FILTERS}
    page_text = params.get("page", "1")
    page = max(int(page_text), 1) if page_text.isdigit() else 1
    records, total = container.audit.search(
        principal,
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        object_type=filters["object_type"] or None,
        object_id=filters["object_id"] or None,
        limit=AUDIT_PAGE_SIZE,
        offset=(page - 1) * AUDIT_PAGE_SIZE,
    )
    last_page = max((total + AUDIT_PAGE_SIZE - 1) // AUDIT_PAGE_SIZE, 1)
    return {
        "filters": filters,
        "records": records,
        "total": total,
        "page": page,
        "last_page": last_page,
        "diff": diff,
        "page_url": lambda n: with_query("/audit", **filters, page=n),
        "verify": None,
    }


@router.get("/audit", include_in_schema=False)
def audit_page(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    return render(request, "governance/audit.html", _audit_context(request, container, principal))


@router.get("/audit/verify", include_in_schema=False)
def audit_verify(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    """With htmx only the result box is replaced; without it the whole page comes back with it."""
    report = container.audit.verify(principal)
    if is_htmx(request, "verify-result"):
        return render(request, "governance/_verify.html", {"verify": report})
    context = _audit_context(request, container, principal) | {"verify": report}
    return render(request, "governance/audit.html", context)


# --- users ------------------------------------------------------------------------------------
def _users_page(
    request: Request,
    container: Container,
    principal: Principal,
    *,
    error: IsthmusError | None = None,
    draft: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "users": container.accounts.users(principal),
        "roles": list(Role),
        "role_labels": ROLE_LABELS,
        "add_error": error,
        "draft": draft or {"username": "", "display_name": "", "roles": []},
        "flash": request.query_params.get("msg", ""),
        "flash_user": request.query_params.get("user", ""),
    }
    return render(request, "governance/users.html", context, status_code=status_code)


@router.get("/users", include_in_schema=False)
def users_page(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    return _users_page(request, container, principal)


def _roles(values: list[str]) -> set[Role]:
    return {Role.parse(v) for v in values}


@router.post("/users", include_in_schema=False)
def add_user(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    draft = {"username": username, "display_name": display_name, "roles": roles or []}
    try:
        if not roles:
            raise InvalidInput("roles: choose at least one role")
        container.accounts.add_user(
            principal, username.strip(), password, _roles(roles), display_name.strip()
        )
    except (InvalidInput, Conflict) as error:
        return _users_page(request, container, principal, error=error, draft=draft, status_code=422)
    return RedirectResponse(with_query("/users", msg="added", user=username), status_code=303)


@router.post("/users/{username}/roles", include_in_schema=False)
def set_roles(
    username: str,
    container: WebContainer,
    principal: WebPrincipal,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    container.accounts.set_roles(principal, username, _roles(roles or []))
    return RedirectResponse(with_query("/users", msg="roles", user=username), status_code=303)


# --- jobs -------------------------------------------------------------------------------------
@router.get("/jobs", include_in_schema=False)
def jobs_page(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    counts = container.jobs.counts(principal)
    context = {
        "counts": [(state, counts.get(state.value, 0)) for state in JobState],
        "state_labels": STATE_LABELS,
        "incidents": container.jobs.find(principal, JobState.INCIDENT, 200),
        "flash": request.query_params.get("msg", ""),
        "flash_job": request.query_params.get("job", ""),
    }
    return render(request, "governance/jobs.html", context)


@router.post("/jobs/{job_id}/retry", include_in_schema=False)
def retry_job(job_id: int, container: WebContainer, principal: WebPrincipal) -> Response:
    container.jobs.retry(principal, job_id)
    return RedirectResponse(with_query("/jobs", msg="retried", job=job_id), status_code=303)
