"""The envelope of every list endpoint: ``{"items", "total", "limit", "offset"}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
