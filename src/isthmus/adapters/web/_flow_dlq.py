"""Connect › dead letters: messages no attempt could deliver, with their flow, error, attempts and
masked payload; filters by flow and error text; replay one or many (checkboxes), discard with a reason.

Replay and discard are ``FlowService.replay`` / ``discard``: permission-checked (``flow:operate``),
one audit record per message, all or nothing per request — a rejected record that the flow's latest
version still rejects stops the replay and the page says which one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._redirects import with_query
from isthmus.adapters.web._templates import render
from isthmus.errors import InvalidInput, IsthmusError
from isthmus.integration import MessageState
from isthmus.security import Principal

router = APIRouter(prefix="/dead-letters", route_class=WebRoute)
# The menu entry is registered by _flow_pages, right after the flows page.

SCANNED = 10_000  # dead letters read per page view before the text filter
SHOWN = 200


def _listing(
    container: Any, principal: Principal, flow: str, search: str
) -> tuple[list[Any], int, list[str]]:
    found = container.flows.messages(
        principal, flow_id=flow or None, states=(MessageState.DEAD_LETTERED,), limit=SCANNED
    )
    needle = search.strip().casefold()
    if needle:
        found = [
            m
            for m in found
            if needle in (m.last_error or "").casefold() or needle in m.idempotency_key.casefold()
        ]
    flows = [d.flow_id for d in container.flows.list(principal)]
    rows = [{"message": m, "payload": json.dumps(m.display, ensure_ascii=False)} for m in found[:SHOWN]]
    return rows, len(found), flows


def _page(
    request: Request,
    container: Any,
    principal: Principal,
    *,
    flow: str = "",
    search: str = "",
    done: dict[str, Any] | None = None,
    error: IsthmusError | None = None,
    status_code: int = 200,
) -> Response:
    messages, total, flows = _listing(container, principal, flow, search)
    context = {
        "messages": messages,
        "total": total,
        "flows": flows,
        "flow": flow,
        "search": search,
        "done": done or {},
        "action_error": error,
        "shown": SHOWN,
    }
    return render(request, "flows/dead_letters.html", context, status_code=status_code)


@router.get("", include_in_schema=False)
def dead_letters(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    flow: str = "",
    q: str = "",
    replayed: str = "",
    discarded: str = "",
) -> Response:
    done = {"replayed": replayed, "discarded": discarded}
    return _page(request, container, principal, flow=flow, search=q, done=done)


async def _chosen(request: Request) -> tuple[list[int], dict[str, str]]:
    form = await request.form()
    ids = [int(v) for v in form.getlist("ids") if isinstance(v, str) and v.isdigit()]
    fields = {k: str(form.get(k) or "") for k in ("flow", "q", "reason")}
    return ids, fields


async def _act(
    request: Request,
    container: Any,
    principal: Principal,
    action: Callable[[list[int], str], int],
    done: str,
) -> Response:
    """Run ``action`` on the chosen messages; back to the list with the count, or the list with the error."""
    ids, fields = await _chosen(request)
    try:
        if not ids:
            raise InvalidInput("choose at least one message")
        count = await run_in_threadpool(action, ids, fields["reason"])
    except InvalidInput as error:
        page = partial(_page, request, container, principal, flow=fields["flow"], search=fields["q"])
        return await run_in_threadpool(page, error=error, status_code=422)
    target = with_query("/dead-letters", flow=fields["flow"], q=fields["q"], **{done: count})
    return RedirectResponse(target, status_code=303)


@router.post("/replay", include_in_schema=False)
async def replay(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    def _replay(ids: list[int], reason: str) -> int:
        return len(container.flows.replay(principal, ids))

    return await _act(request, container, principal, _replay, "replayed")


@router.post("/discard", include_in_schema=False)
async def discard(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    def _discard(ids: list[int], reason: str) -> int:
        return container.flows.discard(principal, ids, reason)

    return await _act(request, container, principal, _discard, "discarded")
