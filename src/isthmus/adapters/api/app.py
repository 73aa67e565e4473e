"""The ASGI application: API under ``/api/v1`` (OpenAPI at ``/docs``), the web UI at ``/``."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from isthmus import __version__
from isthmus.adapters.api import problems
from isthmus.adapters.api.middleware import BodyLimit, DefaultHeaders
from isthmus.adapters.api.routes import (
    catalog,
    data,
    decisions,
    engine,
    flows,
    governance,
    hooks,
    mining,
    models,
    systems,
)
from isthmus.adapters.worker import DeliveryLoop, WorkerLoop, delivery_loop
from isthmus.bootstrap import Container
from isthmus.services.integration import DELIVER

API_PREFIX = "/api/v1"
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
SHUTDOWN_GRACE_S = 30.0


def create_app(container: Container, *, run_worker: bool = False) -> FastAPI:
    """Build the app on ``container``. With ``run_worker`` a worker thread runs jobs in-process."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop: WorkerLoop | None = None
        delivery: DeliveryLoop | None = None
        threads = []
        if run_worker:
            if container.retention is not None:
                container.retention.ensure()  # the hourly purge, as `isthmus worker` starts it
            delivery = delivery_loop(container)
            runner = container.job_runner(skip_kinds=(DELIVER,))
            loop = WorkerLoop(runner, container.database.unit_of_work, container.clock)
            threads = [loop.start_thread(), delivery.start_thread()]
        try:
            yield
        finally:
            if loop is not None and delivery is not None:
                loop.stop()
                delivery.stop()
                # Let the jobs in hand finish and commit: a graceful stop loses no work.
                for thread in threads:
                    await asyncio.to_thread(thread.join, SHUTDOWN_GRACE_S)
                delivery.close()

    app = _App(
        title="Isthmus API",
        version=__version__,
        description="Discover, design, connect, run, measure and govern business processes. "
        "Errors are RFC 9457 problem+json; lists are paged with limit/offset.",
        docs_url="/docs",
        openapi_url=f"{API_PREFIX}/openapi.json",
        lifespan=lifespan,
    )
    app.state.container = container
    problems.install(app)

    app.add_middleware(BodyLimit, limit=container.settings.max_upload_bytes)
    app.add_middleware(DefaultHeaders, headers=SECURITY_HEADERS)

    app.include_router(hooks.router)  # first: the busiest route is matched first
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(catalog.router)
    api.include_router(flows.router)
    api.include_router(systems.router)
    api.include_router(governance.router)
    api.include_router(decisions.router)
    api.include_router(engine.instances)
    api.include_router(engine.tasks)
    api.include_router(engine.messages)
    api.include_router(engine.notifications)
    api.include_router(models.router)
    api.include_router(mining.router)
    api.include_router(data.router)

    @api.get("/health", tags=["system"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    app.include_router(api)
    _mount_web(app)
    return app


class _App(FastAPI):
    """FastAPI, but ``POST /hooks/{flow}`` goes to :class:`~isthmus.adapters.api.routes.hooks.HookFastPath`
    behind the app's own middlewares (headers, body limit) and ahead of FastAPI's (server errors,
    telemetry, its body limit), routing and dependency solving: the busiest route, whose handler
    answers its own errors."""

    _hook_path: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if hooks.HookFastPath.serves(scope):
            if self._hook_path is None:  # on first use: every middleware is added by then
                path: ASGIApp = hooks.HookFastPath(self._fastapi)
                for cls, args, kwargs in reversed(self.user_middleware):
                    path = cls(path, *args, **kwargs)
                self._hook_path = path
            scope["app"] = self
            await self._hook_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def _mount_web(app: FastAPI) -> None:
    if importlib.util.find_spec("isthmus.adapters.web") is not None:
        importlib.import_module("isthmus.adapters.web").mount(app)
