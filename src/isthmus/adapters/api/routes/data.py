"""``/api/v1/data``: profile, cleanse and de-duplicate an uploaded table (CSV, Excel, Parquet).

Stateless: the file comes in as multipart field ``file`` (streamed to a temporary file, at most
``ISTHMUS_MAX_UPLOAD_BYTES``), an optional rule file as form field ``rules`` (YAML text); the answer
is JSON in the shapes of ``docs/quality.md``. Nothing is stored.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from isthmus.adapters.api.auth import ContainerDep, CurrentPrincipal
from isthmus.errors import InvalidInput, PayloadTooLarge
from isthmus.quality import (
    RuleFile,
    RuleKind,
    apply_rules,
    config_from_mapping,
    dedupe,
    parse_rules,
    profile,
    read_table,
)

router = APIRouter(prefix="/data", tags=["quality"])

CHUNK = 1024 * 1024
_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "rules": {"type": "string"},
                    },
                    "required": ["file"],
                }
            }
        },
    }
}


async def _upload(
    request: Request, container: ContainerDep
) -> tuple[Path, RuleFile, tempfile.TemporaryDirectory[str]]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise InvalidInput(
            "expected a multipart upload with the table in field 'file', got {kind!r}", kind=kind
        )
    limit = container.settings.max_upload_bytes
    form = await request.form(max_part_size=limit + 1)
    folder = tempfile.TemporaryDirectory(prefix="isthmus-data-")
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("file: expected a table in the multipart field 'file'", field="file")
        path = Path(folder.name) / Path(upload.filename or "upload.csv").name
        size = 0
        with path.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
                out.write(chunk)
        rules = form.get("rules")
        rule_file = parse_rules(rules if isinstance(rules, str) else "", file="rules")
    except BaseException:
        folder.cleanup()
        raise
    finally:
        await form.close()
    return path, rule_file, folder


@router.post("/profile", openapi_extra=_UPLOAD_DOC)
async def profile_table(
    request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Profile every column; ``validate`` rules of ``rules`` give the data error rate."""
    principal.require("data:read")
    path, rules, folder = await _upload(request, container)
    with folder:
        frame = await run_in_threadpool(read_table, path)
        checks = [r for r in rules.rules if r.kind is RuleKind.VALIDATE]
        report = await run_in_threadpool(profile, frame, source=path.name, rules=checks)
    return report.as_dict()


@router.post("/clean", openapi_extra=_UPLOAD_DOC)
async def clean_table(
    request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Apply the rules; the report per rule and column, and the first 100 cleansed rows."""
    principal.require("data:clean")
    path, rules, folder = await _upload(request, container)
    with folder:
        frame = await run_in_threadpool(read_table, path)
        result = await run_in_threadpool(apply_rules, frame, rules.rules)
    return result.as_dict() | {"preview": result.frame.head(100).to_dicts()}


@router.post("/dedupe", openapi_extra=_UPLOAD_DOC)
async def dedupe_table(
    request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Clusters of records judged one entity (0-based data rows), with scores and the members' values."""
    principal.require("data:read")
    path, rules, folder = await _upload(request, container)
    with folder:
        frame = await run_in_threadpool(read_table, path)
        config = config_from_mapping(rules.dedupe, file="rules", line=rules.dedupe_line)
        result = await run_in_threadpool(dedupe, frame, config, file=path.name)
    body = result.as_dict(detail=True)
    body["records"] = [[frame.row(r, named=True) for r in c.rows] for c in result.clusters[:200]]
    return body
