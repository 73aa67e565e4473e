"""Settings of the files connector, read from a flow's ``source.options`` / ``target.options``."""

from __future__ import annotations

import codecs
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FilesConfig(BaseModel):
    """``folder``: the inbound folder (source; ``processed/`` and ``failed/`` beside the files) or
    the outbound folder (target). ``format``: csv, jsonl or xlsx; CSV ``delimiter`` and ``encoding``
    (``gb18030`` for files from Chinese Excel). ``pattern`` selects inbound files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: str
    format: Literal["csv", "jsonl", "xlsx"] = "csv"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    pattern: str = "*"
    chunk_rows: int = Field(default=50_000, ge=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        # Refused when the flow is checked, not at the first file hours later.
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> FilesConfig:
        return cls.model_validate(options)
