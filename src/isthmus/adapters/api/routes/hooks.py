"""``POST /hooks/{flow}``: inbound webhooks, answered 202 only once the messages are committed.

Authentication, chosen by the flow's ``source.options.auth``:

- ``token`` (default): ``Authorization: Bearer <Isthmus API token>`` of a user with ``flow:operate``;
- ``hmac``: ``X-Isthmus-Signature: sha256=<hex>`` — HMAC-SHA256 of the raw body with the secret in the
  environment variable that ``source.options.hmac_secret_env`` names (never stored in the flow),
  compared in constant time (the scheme GitHub and Stripe webhooks use).

The body is one JSON object or a list of them. ``FlowService.accept`` stores every message with its
delivery job in one transaction before the answer is written, so a 202 means "durably stored".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.api.auth import ContainerDep, current_principal
from isthmus.errors import AuthenticationFailed, ConfigurationError, InvalidInput
from isthmus.security import Principal, PrincipalKind, Role

router = APIRouter(tags=["integration"])
SIGNATURE_HEADER = "X-Isthmus-Signature"


def signature(secret: str, body: bytes) -> str:
    """The header value a sender computes: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _check_hmac(flow_id: str, options: dict[str, Any], request: Request, body: bytes) -> Principal:
    name = str(options.get("hmac_secret_env", ""))
    secret = os.environ.get(name) if name else None
    if not secret:
        raise ConfigurationError(
            "flow {flow}: the HMAC secret variable {name!r} is not set", flow=flow_id, name=name
        )
    sent = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(sent.encode(), signature(secret, body).encode()):
        raise AuthenticationFailed("missing or wrong {header} signature", header=SIGNATURE_HEADER)
    return Principal(
        actor=f"webhook:{flow_id}", kind=PrincipalKind.SYSTEM, roles=frozenset({Role.IT_INTEGRATOR})
    )


def _records(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("body: expected JSON") from exc
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        raise InvalidInput("body: expected a JSON object or a non-empty list of objects")
    return items


@router.post("/hooks/{flow_id}", status_code=status.HTTP_202_ACCEPTED)
async def receive(
    flow_id: str, request: Request, response: Response, container: ContainerDep
) -> dict[str, Any]:
    """Accept records for ``flow_id``; 202 with counts once they are committed to the outbox."""
    body = await request.body()
    _, flow = await run_in_threadpool(container.flows.get, _SYSTEM_READER, flow_id)
    if flow.source.connector != "webhook":
        raise InvalidInput(
            "flow {flow} has a {kind} source, not a webhook", flow=flow_id, kind=flow.source.connector
        )
    if str(flow.source.options.get("auth", "token")) == "hmac":
        principal = _check_hmac(flow_id, flow.source.options, request, body)
    else:
        principal = await current_principal(request)
    report = await run_in_threadpool(container.flows.accept, principal, flow_id, _records(body))
    response.headers["Location"] = f"/api/v1/flows/{flow_id}"
    return {"flow": flow_id, **report.as_dict(), "messages": list(report.message_ids)}


# Reading the flow's definition to learn how to authenticate happens before anyone is known.
_SYSTEM_READER = Principal(actor="webhook", kind=PrincipalKind.SYSTEM, roles=frozenset({Role.IT_INTEGRATOR}))
