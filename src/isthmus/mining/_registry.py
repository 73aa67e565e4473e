"""What the registry knows of an imported log: its id, its Parquet file and its statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from isthmus.mining._log import LogStatistics


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLog:
    """A registered event log. ``file`` is the Parquet file's name inside ``<data dir>/logs``."""

    id: str
    name: str
    file: str
    source_format: str
    statistics: LogStatistics
    imported_at: datetime
    imported_by: str
    process_id: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "source_format": self.source_format,
            "imported_at": self.imported_at.isoformat(),
            "imported_by": self.imported_by,
            "process_id": self.process_id,
            "statistics": self.statistics.as_dict(),
        }
