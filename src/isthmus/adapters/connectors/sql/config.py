"""Settings of the SQL connector, read from a flow's ``target.options`` / ``source.options``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class SqlConfig(BaseModel):
    """``url``: any SQLAlchemy URL. A target upserts into ``table`` on the ``key`` columns. A source
    reads ``table`` (or ``query``) in ``watermark`` order, ``batch_rows`` at a time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    table: str
    key: list[str] = []
    watermark: str | None = None
    batch_rows: int = 10_000

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SqlConfig:
        return cls.model_validate(options)
