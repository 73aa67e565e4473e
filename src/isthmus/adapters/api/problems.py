"""The one table that turns errors into RFC 9457 problem responses. No stack trace ever leaves."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from isthmus.errors import (
    AuthenticationFailed,
    ConfigurationError,
    Conflict,
    CsrfFailed,
    IntegrationFailure,
    InvalidInput,
    IsthmusError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Throttled,
)

log = logging.getLogger("isthmus.api")
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://isthmus.dev/problems/"

# Most specific first.
STATUS: tuple[tuple[type[IsthmusError], int], ...] = (
    (PayloadTooLarge, 413),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Throttled, 429),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (CsrfFailed, 403),
    (IntegrationFailure, 502),
    (ConfigurationError, 500),
)


def status_for(error: IsthmusError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 500)


def problem(status: int, title: str, detail: str, *, code: str, instance: str, **extra: Any) -> JSONResponse:
    body = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def isthmus_problem(request: Request, error: IsthmusError) -> JSONResponse:
    status = status_for(error)
    extra: dict[str, Any] = {}
    body = error.as_dict()
    if "errors" in body:
        extra["errors"] = body["errors"]
    if "location" in body:
        extra["location"] = body["location"]
    if isinstance(error, PermissionDenied):
        extra["permission"] = error.permission
    response = problem(
        status, error.title, error.message, code=error.code, instance=request.url.path, **extra
    )
    if isinstance(error, Throttled):
        response.headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, AuthenticationFailed) and not isinstance(error, Throttled):
        response.headers["WWW-Authenticate"] = 'Bearer realm="isthmus"'
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(IsthmusError)
    async def _isthmus(request: Request, error: IsthmusError) -> JSONResponse:
        return isthmus_problem(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = [
            {
                "code": "invalid_input",
                "message": f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}",
                "location": {"field": ".".join(str(p) for p in e.get("loc", ())[1:])},
            }
            for e in error.errors()
        ]
        first = str(errors[0]["message"]) if errors else "invalid request"
        return problem(
            422, "Invalid input", first, code="invalid_input", instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            error.status_code, "http_error"
        )
        return problem(
            error.status_code, str(error.detail), str(error.detail), code=code, instance=request.url.path
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "Internal error",
            "an internal error occurred; it was logged",
            code="internal_error",
            instance=request.url.path,
        )
