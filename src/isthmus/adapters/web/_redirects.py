"""Where a redirect may go: only paths of this site, never another host (open-redirect guard)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request


def safe_next(target: str | None, fallback: str = "/") -> str:
    """``target`` when it is a local absolute path, else ``fallback``.

    ``//host`` and ``/\\host`` are rejected: browsers read both as another host.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return fallback
    if any(c in target for c in "\r\n\t"):
        return fallback
    return target


def here(request: Request) -> str:
    """The path and query of ``request``: what ``next`` should bring a person back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def with_query(path: str, **params: str | int | None) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path
