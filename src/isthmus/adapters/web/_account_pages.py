"""Signing in and out, the language switch, and the start page with the six stages."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.api.auth import SESSION_COOKIE, client_address
from isthmus.adapters.api.routes.governance import set_session_cookie
from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._language import LANGUAGE_COOKIE, ONE_YEAR_S
from isthmus.adapters.web._redirects import safe_next
from isthmus.adapters.web._templates import render
from isthmus.errors import AuthenticationFailed, Throttled
from isthmus.i18n import normalise
from isthmus.security import tokens_equal

router = APIRouter(route_class=WebRoute)

# Login CSRF (OWASP): a pre-session token in a cookie that the login form must echo, so another
# site cannot sign a victim's browser into the attacker's account.
LOGIN_CSRF_COOKIE = "isthmus_login_csrf"


@router.get("/", include_in_schema=False)
def home(request: Request, principal: WebPrincipal) -> Response:
    return render(request, "home.html")


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/", expired: str = "", signed_out: str = "") -> Response:
    message = None
    if expired:
        message = "expired"
    elif signed_out:
        message = "signed_out"
    return _login_page(request, next_url=safe_next(next), notice=message)


def _login_page(
    request: Request,
    *,
    next_url: str,
    notice: str | None = None,
    error: AuthenticationFailed | None = None,
    username: str = "",
    status_code: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    context = {
        "next_url": next_url,
        "notice": notice,
        "login_error": error,
        "throttled": isinstance(error, Throttled),
        "username": username,
        "login_csrf": token,
    }
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, Throttled) else None
    response = render(request, "login.html", context, status_code=status_code, headers=headers)
    secure = _secure(request)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/login"
    )
    return response


def _secure(request: Request) -> bool:
    settings = request.app.state.container.settings
    return bool(settings.cookie_secure or request.url.scheme == "https")


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    container: WebContainer,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not tokens_equal(csrf_token, expected):
        return _login_page(request, next_url=target, notice="stale_form", username=username, status_code=403)
    try:
        signed = await run_in_threadpool(
            container.accounts.login, username, password, client_address(request)
        )
    except AuthenticationFailed as error:
        status = 429 if isinstance(error, Throttled) else 401
        return _login_page(request, next_url=target, error=error, username=username, status_code=status)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, signed.cookie, secure=_secure(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(container.accounts.logout, cookie)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/language/{code}", include_in_schema=False)
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    """A plain link (works without JS). It changes only how the caller's own pages read."""
    response = RedirectResponse(safe_next(next), status_code=303)
    language = normalise(code)
    if language:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=ONE_YEAR_S, samesite="lax", secure=_secure(request), path="/"
        )
    return response
