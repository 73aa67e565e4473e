"""Service-task handlers of the demo process SAL-ORD-001 (sandbox ERP and finance).

Each handler is idempotent on the request's idempotency key, as every real handler must be: a
reservation made twice for the same key is the same reservation. They are registered inline (no
remote I/O: the sandbox ERP is a computation), so a service task of the demo runs in the step that
reaches it; a real ERP handler doing HTTP calls must stay a job.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol

log = logging.getLogger("isthmus.demo")


class Request(Protocol):
    @property
    def idempotency_key(self) -> str: ...

    @property
    def variables(self) -> Mapping[str, Any]: ...


class Registry(Protocol):
    def register(self, name: str, handler: Any, *, inline: bool | None = None) -> None: ...


def check_stock(request: Request) -> Mapping[str, Any]:
    """The sandbox ERP has stock for every order of up to 10,000 units."""
    quantity = request.variables.get("quantity") or 1
    return {"in_stock": isinstance(quantity, int | float) and quantity <= 10_000}


def reserve_stock(request: Request) -> Mapping[str, Any]:
    digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:10].upper()
    return {"reservation_id": f"RSV-{digest}"}


def notify_finance(request: Request) -> Mapping[str, Any]:
    log.info("finance notified of order %s", request.variables.get("order_id"))
    return {"finance_notified": True}


def escalate(request: Request) -> Mapping[str, Any]:
    log.warning(
        "stock check late for order %s: warehouse supervisor notified", request.variables.get("order_id")
    )
    return {"stock_check_escalated": True}


DEMO_HANDLERS = {
    "demo.check-stock": check_stock,
    "demo.reserve-stock": reserve_stock,
    "demo.notify-finance": notify_finance,
    "demo.escalate": escalate,
}


def register_demo_handlers(registry: Registry, *, inline: bool = True) -> None:
    """The handlers are local computations of the sandbox, so they run inline (inside the step
    that reaches their task); ``inline=False`` makes every demo service task a job again."""
    for name, handler in DEMO_HANDLERS.items():
        registry.register(name, handler, inline=inline)
