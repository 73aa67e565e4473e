"""Pulling records from a flow's source into its outbox: files folders and SQL tables.

Each chunk is stored by ``FlowService.accept_frame`` in one transaction; only after that commit does
the source move on — a file goes to ``processed/`` after its last chunk, and a SQL watermark is
written (atomically, beside the database in ``<data dir>/flow-cursors``) after each batch. A crash
re-reads at most one chunk, whose records the outbox recognises by their idempotency keys.

A scheduled pull passes a ``checkpoint`` (its job lease, ``services/flow_schedule.JobLease``), called
after each chunk is stored and before the source moves on: it renews the lease, and raises when the
run lost its job to another worker, so a stale run never moves a file or a watermark.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from isthmus.adapters.connectors.files import FilesConfig, InboundFolder, read_chunks
from isthmus.adapters.connectors.jsonrpc import JsonRpcConfig, JsonRpcTarget
from isthmus.adapters.connectors.rpc import RpcConfig, RpcSource, RpcSourceOptions, RpcTarget
from isthmus.adapters.connectors.sql import SqlConfig, SqlSource
from isthmus.adapters.connectors.xmlrpc import XmlRpcConfig, XmlRpcTarget
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


def _nothing() -> None:
    pass


def _pull_files(
    flows: FlowService,
    principal: Principal,
    flow: FlowDefinition,
    *,
    test: bool,
    checkpoint: Callable[[], None] = _nothing,
) -> SourceRun:
    config = FilesConfig.from_options(flow.source.options | {"chunk_rows": flow.chunk_rows})
    folder = InboundFolder(config)
    run = SourceRun()
    for path in folder.pending():
        try:
            for first_row, frame in read_chunks(path, config):
                run.report += flows.accept_frame(principal, flow.id, frame, first_row=first_row, test=test)
                checkpoint()
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
    flows: FlowService,
    principal: Principal,
    flow: FlowDefinition,
    cursors: CursorStore,
    *,
    test: bool,
    checkpoint: Callable[[], None] = _nothing,
) -> SourceRun:
    source = SqlSource(SqlConfig.from_options(flow.source.options))
    run = SourceRun(watermark=cursors.get(flow.id))
    try:
        for first_row, records in source.batches(after=run.watermark):
            frame = pl.DataFrame(records, infer_schema_length=None)
            run.report += flows.accept_frame(principal, flow.id, frame, first_row=first_row, test=test)
            checkpoint()  # the lease, renewed; raises if this run lost it: the cursor stays
            cursors.put(flow.id, source.last_watermark)  # only after the batch is in the outbox
            run.watermark = source.last_watermark
    finally:
        source.close()
    return run


def _pull_rpc(
    flows: FlowService,
    principal: Principal,
    flow: FlowDefinition,
    cursors: CursorStore,
    options: dict[str, Any],
    *,
    test: bool,
    checkpoint: Callable[[], None] = _nothing,
) -> SourceRun:
    source = rpc_source(flow.source.connector, options, flow.delivery.timeout_s)
    run = SourceRun(watermark=cursors.get(flow.id))
    try:
        for first_row, records in source.batches(after=run.watermark, timeout_s=flow.delivery.timeout_s):
            frame = pl.DataFrame(records, infer_schema_length=None, strict=False)
            run.report += flows.accept_frame(principal, flow.id, frame, first_row=first_row, test=test)
            checkpoint()  # the lease, renewed; raises if this run lost it: the cursor stays
            cursors.put(flow.id, source.last_watermark)  # only after the batch is in the outbox
            run.watermark = source.last_watermark
    finally:
        source.close()
    return run


def rpc_source(kind: str, options: dict[str, Any], timeout_s: float) -> RpcSource:
    """A JSON-RPC or XML-RPC source (Odoo-style: ``search_read`` on ``model`` in a session)."""
    connection = {k: v for k, v in options.items() if k in RpcConfig.model_fields} | {"method": "search_read"}
    try:
        if kind == "jsonrpc":
            target: RpcTarget = JsonRpcTarget(JsonRpcConfig.from_options(connection), timeout_s)
        else:
            target = XmlRpcTarget(XmlRpcConfig.from_options(connection), timeout_s)
        what = RpcSourceOptions.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigurationError(
            "source options.{field}: {error}",
            field=".".join(str(p) for p in first["loc"]),
            error=first["msg"],
        ) from exc
    if target.config.auth != "odoo":
        target.close()
        raise ConfigurationError("source options.auth: an RPC source reads Odoo-style (auth: odoo)")
    return RpcSource(target, what)


PULLED_KINDS = ("files", "jsonrpc", "sql", "xmlrpc")
Registry = Callable[[str], dict[str, Any]]


def pull(
    flows: FlowService,
    principal: Principal,
    flow_id: str,
    *,
    cursor_dir: Path,
    test: bool = False,
    registry: Registry | None = None,
    checkpoint: Callable[[], None] = _nothing,
) -> SourceRun:
    """Read what is new at the source of ``flow_id`` into its outbox.

    ``registry`` gives the systems registry's settings and credentials of the source system, under
    the flow's own ``source.options`` (used by RPC sources, whose credentials live there)."""
    _, flow = flows.get(principal, flow_id)
    if flow.source.connector in ("jsonrpc", "xmlrpc"):
        options = (registry(flow.source.system) if registry else {}) | flow.source.options
        return _pull_rpc(
            flows, principal, flow, CursorStore(cursor_dir), options, test=test, checkpoint=checkpoint
        )
    if flow.source.connector == "files":
        return _pull_files(flows, principal, flow, test=test, checkpoint=checkpoint)
    if flow.source.connector == "sql":
        return _pull_sql(flows, principal, flow, CursorStore(cursor_dir), test=test, checkpoint=checkpoint)
    raise ConfigurationError(
        "flow {flow}: a {kind} source is pushed to Isthmus (webhook), not pulled; use --input",
        flow=flow_id,
        kind=flow.source.connector,
    )
