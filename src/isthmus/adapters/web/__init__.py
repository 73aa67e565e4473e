"""The web UI: server-rendered pages (Jinja2 + htmx), in zh-CN and English, on the same app as the API.

``mount(app)`` adds the pages, the static files (vendored htmx and ECharts: the product runs
offline) and a strict Content-Security-Policy. New features add a page with
:func:`register_page` and it appears under its stage in the menu.

Example (in the module of a new page, next to its router)::

    from isthmus.adapters.web import Page, Stage, register_page
    from isthmus.i18n import N_

    register_page(Page(Stage.DESIGN, "models", N_("Process models"), "/models", "model:read"))
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from isthmus.adapters.api.middleware import DefaultHeaders
from isthmus.adapters.web import (
    _account_pages,
    _catalog_pages,
    _decision_pages,
    _flow_dlq,
    _flow_form,
    _flow_pages,
    _governance_pages,
    _mining_pages,
    _model_pages,
    _quality_pages,
    _systems_pages,
    _task_pages,
)
from isthmus.adapters.web._nav import Page, Stage, navigation, register_page, registered_pages

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Only this site's own files run or style the pages (no inline script, no CDN). Swagger UI at
# /docs loads its assets from a CDN, so it keeps FastAPI's defaults.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_UNGUARDED = ("/docs", "/redoc")


def mount(app: FastAPI) -> None:
    """Add the web UI to ``app`` (called by ``create_app``)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (
        _account_pages,
        _catalog_pages,
        _decision_pages,
        _flow_dlq,
        _flow_form,  # before _flow_pages: /flows/new is not the flow "new"
        _flow_pages,
        _governance_pages,
        _mining_pages,
        _model_pages,
        _quality_pages,
        _systems_pages,
        _task_pages,
    ):
        app.include_router(module.router)

    app.add_middleware(
        DefaultHeaders,
        headers=(("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Frame-Options", "DENY")),
        skip=_UNGUARDED,
    )


__all__ = ["Page", "Stage", "mount", "navigation", "register_page", "registered_pages"]
