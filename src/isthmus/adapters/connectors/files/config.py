"""Settings of the files connector, read from a flow's ``source.options`` / ``target.options``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class FilesConfig(BaseModel):
    """``folder``: the inbound folder (source; ``processed/`` and ``failed/`` beside the files) or
    the outbound folder (target). ``format``: csv, jsonl or xlsx; CSV ``delimiter`` and ``encoding``
    (``gb18030`` for files from Chinese Excel). ``pattern`` selects inbound files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: str
    format: Literal["csv", "jsonl", "xlsx"] = "csv"
    delimiter: str = ","
    encoding: str = "utf-8"
    pattern: str = "*"
    chunk_rows: int = 50_000

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> FilesConfig:
        return cls.model_validate(options)
