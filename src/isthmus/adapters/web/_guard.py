"""Who may see a page, and how refusals look in a browser.

``signed_in`` reuses :func:`isthmus.adapters.api.auth.current_principal` (session lookup and the
CSRF check on every state-changing request), so the web and the API can never disagree on those
rules. Errors become pages here, not problem+json: :class:`WebRoute` renders them for every web
route, including errors raised while resolving dependencies.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from isthmus.adapters.api.auth import SESSION_COOKIE, current_principal
from isthmus.adapters.api.problems import status_for
from isthmus.adapters.web._redirects import here, with_query
from isthmus.adapters.web._templates import is_htmx, render
from isthmus.bootstrap import Container
from isthmus.errors import AuthenticationFailed, IsthmusError, PermissionDenied
from isthmus.security import Principal


class LoginRequired(Exception):
    """Not signed in, or the session ended: send the browser to the login page."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("login required")
        self.expired = expired


async def signed_in(request: Request) -> Principal:
    try:
        return await current_principal(request)
    except AuthenticationFailed as error:
        raise LoginRequired(expired=bool(request.cookies.get(SESSION_COOKIE))) from error


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


WebPrincipal = Annotated[Principal, Depends(signed_in)]
WebContainer = Annotated[Container, Depends(container_of)]


def login_redirect(request: Request, *, expired: bool) -> Response:
    # After a form post, come back to the page that showed the form, not to the POST target.
    if request.method == "GET":
        back = here(request)
    else:
        back = request.headers.get("hx-current-url") or request.headers.get("referer") or "/"
    target = with_query("/login", next=_path_only(back), expired="1" if expired else None)
    if is_htmx(request):
        # htmx would swap the login page into a fragment; HX-Redirect makes it a full navigation.
        response: Response = Response(status_code=200, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    if expired:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _path_only(url: str) -> str:
    if url.startswith(("http://", "https://")):
        _, _, rest = url.partition("://")
        _, slash, path = rest.partition("/")
        return slash + path
    return url


def error_page(request: Request, error: IsthmusError) -> Response:
    """A page that says what went wrong; a 403 names the missing permission."""
    status = status_for(error)
    permission = error.permission if isinstance(error, PermissionDenied) else None
    context = {"error": error, "status": status, "permission": permission}
    return render(request, "error.html", context, status_code=status)


class WebRoute(APIRoute):
    """A route whose errors are pages: login redirects, 403/404/409 pages, never JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as missing:
                return login_redirect(request, expired=missing.expired)
            except IsthmusError as error:
                return error_page(request, error)

        return guarded
