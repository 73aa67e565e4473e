"""Who is calling: a bearer API token, or a browser session cookie guarded by a CSRF token.

Bearer requests need no CSRF check: the browser never attaches the header by itself. Cookie
requests that change state must echo the session's CSRF token (synchronizer-token pattern, OWASP
CSRF Prevention Cheat Sheet) in the ``X-CSRF-Token`` header (htmx does this) or a ``csrf_token``
form field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from isthmus.bootstrap import Container
from isthmus.errors import AuthenticationFailed, CsrfFailed
from isthmus.security import Principal, WebSession, tokens_equal

SESSION_COOKIE = "isthmus_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def _csrf_sent(request: Request) -> str | None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent


async def session_of(request: Request) -> tuple[Principal, WebSession] | None:
    """The signed-in browser session, or None (no cookie). Raises when the cookie is stale."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    container = get_container(request)
    return await run_in_threadpool(container.accounts.session_principal, cookie)


async def current_principal(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    container = get_container(request)
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("expected the header 'Authorization: Bearer <token>'")
        principal = await run_in_threadpool(container.accounts.token_principal, token.strip())
    else:
        found = await session_of(request)
        if found is None:
            raise AuthenticationFailed("not signed in: send 'Authorization: Bearer <token>' or sign in")
        principal, session = found
        request.state.session = session
        if request.method not in SAFE_METHODS:
            sent = await _csrf_sent(request)
            if not sent or not tokens_equal(sent, session.csrf_token):
                raise CsrfFailed("missing or wrong CSRF token; reload the page and try again")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
ContainerDep = Annotated[Container, Depends(get_container)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
