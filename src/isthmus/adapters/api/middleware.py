"""Pure ASGI middlewares: default response headers and the request-body limit.

Why not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs the rest of the app in
a task of its own and copies the response through a memory stream, which cost the webhook path a
large share of its time per request. These do the same work on the ASGI messages as they pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from isthmus.adapters.api.problems import problem

MULTIPART_SLACK = 64 * 1024


class DefaultHeaders:
    """Add ``headers`` to every HTTP response that does not set them itself (paths starting with
    one of ``skip`` excepted)."""

    def __init__(self, app: ASGIApp, headers: Sequence[tuple[str, str]], skip: tuple[str, ...] = ()) -> None:
        self.app = app
        self._headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self._skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self._skip and str(scope["path"]).startswith(self._skip)):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                missing = [(k, v) for k, v in self._headers if k not in present]
                if missing:
                    message = {**message, "headers": [*message.get("headers", ()), *missing]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse with 413 a request whose declared ``Content-Length`` passes ``limit`` bytes (plus
    64 KiB for a multipart upload's framing)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    if value.isdigit() and int(value) > self._limit + MULTIPART_SLACK:
                        response = problem(
                            413,
                            "Payload too large",
                            f"request body larger than {self._limit} bytes",
                            code="payload_too_large",
                            instance=scope["path"],
                        )
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)
