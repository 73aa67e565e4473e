"""Pulling records from a flow's source into its outbox: files folders and SQL tables.

Each chunk is stored by ``FlowService.accept_frame`` in one transaction; only after that commit does
the source move on — a file goes to ``processed/`` after its last chunk, and a SQL watermark is
written (atomically, beside the database in ``<data dir>/flow-cursors``) after each batch. A crash
re-reads at most one chunk, whose records the outbox recognises by their idempotency keys.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from isthmus.adapters.connectors.files import FilesConfig, InboundFolder, read_chunks
from isthmus.adapters.connectors.sql import SqlConfig, SqlSource
from isthmus.errors import ConfigurationError
from isthmus.integration import FlowDefinition
from isthmus.security import Principal
from isthmus.services.integration import AcceptReport, FlowService


@dataclass
class SourceRun:
    """What one pull did: totals, and per file where it went."""

    report: AcceptReport = field(default_factory=AcceptReport)
    files: dict[str, str] = field(default_factory=dict)
    watermark: Any = None

    def as_dict(self) -> dict[str, Any]:
        return self.report.as_dict() | {"files": self.files, "watermark": self.watermark}


def _pull_files(flows: FlowService, principal: Principal, flow: FlowDefinition, *, test: bool) -> SourceRun:
    config = FilesConfig.from_options(flow.source.options | {"chunk_rows": flow.chunk_rows})
    folder = InboundFolder(config)
    run = SourceRun()
    for path in folder.pending():
        try:
            for first_row, frame in read_chunks(path, config):
                run.report += flows.accept_frame(principal, flow.id, frame, first_row=first_row, test=test)
        except (UnicodeDecodeError, ValueError, OSError) as exc:
            folder.failed(path, f"{type(exc).__name__}: {exc}")
            run.files[path.name] = "failed"
            continue
        folder.done(path)
        run.files[path.name] = "processed"
    return run


class CursorStore:
    """The last committed watermark per flow, one small JSON file each, replaced atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, flow_id: str) -> Any:
        path = self.folder / f"{flow_id}.json"
        return json.loads(path.read_text(encoding="utf-8"))["watermark"] if path.exists() else None

    def put(self, flow_id: str, watermark: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".cursor-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"watermark": watermark}, out, default=str)
        Path(temporary).replace(self.folder / f"{flow_id}.json")


def _pull_sql(
    flows: FlowService, principal: Principal, flow: FlowDefinition, cursors: CursorStore, *, test: bool
) -> SourceRun:
    source = SqlSource(SqlConfig.from_options(flow.source.options))
    run = SourceRun(watermark=cursors.get(flow.id))
    try:
        for first_row, records in source.batches(after=run.watermark):
            frame = pl.DataFrame(records, infer_schema_length=None)
            run.report += flows.accept_frame(principal, flow.id, frame, first_row=first_row, test=test)
            cursors.put(flow.id, source.last_watermark)  # only after the batch is in the outbox
            run.watermark = source.last_watermark
    finally:
        source.close()
    return run


PULLED_KINDS = ("files", "sql")


def pull(
    flows: FlowService, principal: Principal, flow_id: str, *, cursor_dir: Path, test: bool = False
) -> SourceRun:
    """Read what is new at the source of ``flow_id`` into its outbox."""
    _, flow = flows.get(principal, flow_id)
    if flow.source.connector == "files":
        return _pull_files(flows, principal, flow, test=test)
    if flow.source.connector == "sql":
        return _pull_sql(flows, principal, flow, CursorStore(cursor_dir), test=test)
    raise ConfigurationError(
        "flow {flow}: a {kind} source is pushed to Isthmus (webhook), not pulled; use --input",
        flow=flow_id,
        kind=flow.source.connector,
    )
