"""``POST /hooks/{flow}``: inbound webhooks, answered 202 only once the messages are committed.

Authentication, chosen by the flow's ``source.options.auth``:

- ``token`` (default): ``Authorization: Bearer <Isthmus API token>`` of a user with ``flow:operate``;
- ``hmac``: ``X-Isthmus-Signature: sha256=<hex>`` — HMAC-SHA256 of the raw body with the secret in the
  environment variable that ``source.options.hmac_secret_env`` names (never stored in the flow),
  compared in constant time (the scheme GitHub and Stripe webhooks use).

The body is one JSON object or a list of them. The flow's definition is cached in the process; the
signature is checked before any database work; the records are mapped, then stored with their
delivery jobs in one transaction shared with the requests arriving meanwhile (group commit, see
:mod:`isthmus.adapters.api.group_commit`) before the answer is written, so a 202 means "durably
stored". A flow deployed again meanwhile is noticed by that transaction and the request is
authenticated and mapped again on the new version.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from typing import Any

import orjson
from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from isthmus.adapters import json_codec
from isthmus.adapters.api.auth import current_principal, get_container
from isthmus.adapters.api.group_commit import GroupCommit
from isthmus.adapters.api.problems import isthmus_problem, problem
from isthmus.errors import AuthenticationFailed, ConfigurationError, Conflict, InvalidInput, IsthmusError
from isthmus.security import Principal, PrincipalKind, Role
from isthmus.services.flow_hooks import StaleWebhook, WebhookIntake
from isthmus.services.integration import AcceptReport

log = logging.getLogger("isthmus.api")
router = APIRouter(tags=["integration"])
SIGNATURE_HEADER = "X-Isthmus-Signature"
_SIGNATURE_KEY = SIGNATURE_HEADER.lower().encode()  # ASGI header names are lower case bytes
STALE_RETRIES = 3
# Group commits running at once. One, on PostgreSQL too: the requests arriving meanwhile wait for
# it and share the next, so at load there are fewer, larger transactions and fewer threads taking
# turns with the event loop (measured at 1,000 msg/s on 2 vCPUs, bench/RESULTS.md: end-to-end p99
# 48-74 ms with one in flight, 83-119 ms with four). SQLite has one writer anyway.
COMMITS_IN_FLIGHT = 1
MAP_INLINE = 50  # records mapped on the event loop; more go to a thread


def signature(secret: str, body: bytes) -> str:
    """The header value a sender computes: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.digest(secret.encode(), body, "sha256").hex()  # (one-shot: OpenSSL's C)


def _check_hmac(flow_id: str, options: dict[str, Any], request: Request, body: bytes) -> Principal:
    name = str(options.get("hmac_secret_env", ""))
    secret = os.environ.get(name) if name else None
    if not secret:
        raise ConfigurationError(
            "flow {flow}: the HMAC secret variable {name!r} is not set", flow=flow_id, name=name
        )
    sent = next((v for k, v in request.scope["headers"] if k == _SIGNATURE_KEY), b"").decode("latin-1")
    if not hmac.compare_digest(sent.encode(), signature(secret, body).encode()):
        raise AuthenticationFailed("missing or wrong {header} signature", header=SIGNATURE_HEADER)
    return Principal(
        actor=f"webhook:{flow_id}", kind=PrincipalKind.SYSTEM, roles=frozenset({Role.IT_INTEGRATOR})
    )


def _records(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json_codec.loads(body)  # strict: NaN, Infinity, lone surrogates are not JSON
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("body: expected JSON") from exc
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        raise InvalidInput("body: expected a JSON object or a non-empty list of objects")
    return items


@router.post("/hooks/{flow_id}", status_code=status.HTTP_202_ACCEPTED, response_model=None)
async def receive(flow_id: str, request: Request) -> JSONResponse:
    """Accept records for ``flow_id``; 202 with counts once they are committed to the outbox.

    (Documents the route: in the app, :class:`HookFastPath` serves it.)"""
    report = await accept(request, flow_id, await request.body())
    return JSONResponse(
        _answer(flow_id, report), status_code=status.HTTP_202_ACCEPTED, headers=_location(flow_id)
    )


def _answer(flow_id: str, report: AcceptReport) -> dict[str, Any]:
    return {"flow": flow_id, **report.as_dict(), "messages": list(report.message_ids)}


def _location(flow_id: str) -> dict[str, str]:
    return {"Location": f"/api/v1/flows/{flow_id}"}


async def accept(request: Request, flow_id: str, body: bytes) -> AcceptReport:
    """Authenticate, map and store ``body``'s records; the report once they are committed."""
    container = get_container(request)
    intake = container.hooks
    assert intake is not None
    records: list[dict[str, Any]] | None = None
    for _ in range(STALE_RETRIES):
        webhook = intake.cached(flow_id)
        if webhook is None:
            webhook = await run_in_threadpool(intake.webhook, flow_id)
        if str(webhook.flow.source.options.get("auth", "token")) == "hmac":
            principal = _check_hmac(flow_id, webhook.flow.source.options, request, body)
        else:
            principal = await current_principal(request)
        if records is None:
            records = _records(body)
        if len(records) > MAP_INLINE:  # a long list is mapped off the event loop
            prepared = await run_in_threadpool(intake.prepare, webhook, principal, records)
        else:
            prepared = intake.prepare(webhook, principal, records)
        try:
            return await _group_commit(request, intake).submit(prepared)
        except StaleWebhook:
            continue
    raise Conflict("flow {flow} is being deployed; send the request again", flow=flow_id)


def _group_commit(request: Request, intake: WebhookIntake) -> GroupCommit:
    """The app's group commit on this event loop (made on first use: it belongs to the loop)."""
    found: GroupCommit | None = getattr(request.app.state, "hook_commits", None)
    if found is None or found.loop is not asyncio.get_running_loop():
        found = request.app.state.hook_commits = GroupCommit(intake.accept, in_flight=COMMITS_IN_FLIGHT)
    return found


async def _read_body(receive: Receive) -> bytes:
    """The whole request body, straight off the ASGI messages."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class HookFastPath:
    """Serves ``POST /hooks/{flow}`` ahead of FastAPI's middleware stack, routing, dependency
    solving and exception wrappers (measured: about half of the CPU a webhook cost in the API); the
    app puts it behind the same header and body-limit middlewares, errors become the same problem
    responses the app's handlers give, and the 202 is written straight to the ASGI ``send``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def serves(scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        return (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and path.startswith(PREFIX)
            and len(path) > len(PREFIX)
            and "/" not in path[len(PREFIX) :]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.serves(scope):
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        flow_id = path[len(PREFIX) :]
        request = Request(scope, receive)
        try:
            report = await accept(request, flow_id, await _read_body(receive))
        except ClientDisconnect:
            return
        except IsthmusError as error:
            await isthmus_problem(request, error)(scope, receive, send)
            return
        except Exception:
            log.exception("unhandled error on POST %s", path)
            response = problem(
                500,
                "Internal error",
                "an internal error occurred; it was logged",
                code="internal_error",
                instance=path,
            )
            await response(scope, receive, send)
            return
        body = orjson.dumps(_answer(flow_id, report))
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                    (b"location", f"/api/v1/flows/{flow_id}".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


PREFIX = "/hooks/"
