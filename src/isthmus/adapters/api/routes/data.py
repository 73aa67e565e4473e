"""``/api/v1/data``: profile, cleanse and de-duplicate an uploaded table; review decisions; migrations.

Uploads: the file comes in as multipart field ``file`` (streamed to a temporary file, at most
``ISTHMUS_MAX_UPLOAD_BYTES``), an optional rule file as form field ``rules`` (YAML text); the answer
is JSON in the shapes of ``docs/quality.md``. The upload itself is not stored; the review decisions
on its duplicates are (``/data/reviews/{dataset}``), and ``dedupe`` applies them.

Migrations: plans (``/data/migrations/{name}``, YAML) and their dry run, run, verify and rollback,
queued as jobs (``202`` and the job; ``GET /data/migration-jobs/{job}`` follows it). A plan that
does not fit its source or target is refused with ``422`` before anything is queued.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from isthmus.adapters.api.auth import ContainerDep, CurrentPrincipal
from isthmus.errors import InvalidInput, PayloadTooLarge
from isthmus.quality import (
    Decision,
    RuleFile,
    RuleKind,
    apply_rules,
    config_from_mapping,
    parse_rules,
    profile,
    read_table,
    record_ids,
)
from isthmus.services.quality import MigrationAction

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
    """Clusters of records judged one entity (0-based data rows), with scores and the members' values.

    The review decisions of the dataset (query ``dataset``, default the file's name) are applied;
    ``record_ids`` name each cluster's records for ``POST /data/reviews/{dataset}``.
    """
    principal.require("data:read")
    path, rules, folder = await _upload(request, container)
    dataset = request.query_params.get("dataset") or path.name
    with folder:
        frame = await run_in_threadpool(read_table, path)
        config = config_from_mapping(rules.dedupe, file="rules", line=rules.dedupe_line)
        result = await run_in_threadpool(container.quality.dedupe, principal, dataset, frame, config)
    ids = record_ids(frame)
    body = result.as_dict(detail=True)
    body["dataset"] = dataset
    body["records"] = [[frame.row(r, named=True) for r in c.rows] for c in result.clusters[:200]]
    body["record_ids"] = [[ids[r] for r in c.rows] for c in result.clusters[:200]]
    return body


class ReviewIn(BaseModel):
    records: list[str] = Field(min_length=2, description="record_ids of one cluster (from /data/dedupe)")
    decision: str = Field(description="merge | apart")


def _review_out(d: dict[str, Any]) -> dict[str, Any]:
    return {"first": d["first"], "second": d["second"], "decision": d["decision"].value,
            "decided_by": d["decided_by"], "decided_at": d["decided_at"].isoformat()}  # fmt: skip


@router.get("/reviews/{dataset}")
async def list_reviews(
    dataset: str, container: ContainerDep, principal: CurrentPrincipal
) -> list[dict[str, Any]]:
    """The stored review decisions of a dataset, one per pair of records."""
    found = await run_in_threadpool(container.quality.decisions, principal, dataset)
    return [_review_out(d) for d in found]


@router.post("/reviews/{dataset}", status_code=201)
async def decide(
    dataset: str, body: ReviewIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Record *merge* or *keep apart* for the records of one cluster (audited); later runs honour it."""
    pairs = await run_in_threadpool(
        container.quality.decide, principal, dataset, body.records, Decision.parse(body.decision)
    )
    return {"dataset": dataset, "decision": body.decision, "pairs": len(pairs)}


class ForgetIn(BaseModel):
    records: list[str] = Field(min_length=2)


@router.delete("/reviews/{dataset}")
async def forget(
    dataset: str, body: ForgetIn, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Drop the decisions on the pairs of ``records``."""
    removed = await run_in_threadpool(container.quality.forget, principal, dataset, body.records)
    return {"dataset": dataset, "removed": removed}


# -- migrations ---------------------------------------------------------------------------------------


@router.get("/migrations")
async def list_plans(container: ContainerDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    plans = await run_in_threadpool(container.migrations.plans, principal)
    return [
        {"name": p.name, "source": p.source, "target": p.target, "key": p.key, "columns": p.columns}
        for p in plans
    ]


@router.get("/migrations/{name}")
async def show_plan(name: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The plan's YAML and the runs its target's journal records (newest first)."""
    text, _ = await run_in_threadpool(container.migrations.plan, principal, name)
    runs = await run_in_threadpool(container.migrations.runs, principal, name)
    return {"name": name, "text": text, "runs": runs}


@router.put(
    "/migrations/{name}",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}}
    },
)
async def save_plan(
    name: str, request: Request, container: ContainerDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Store a plan (YAML body); it is parsed first, errors name the line and field."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            "plan: the body is not UTF-8 (byte {offset})", field="plan", offset=error.start
        ) from error
    plan = await run_in_threadpool(container.migrations.save_plan, principal, name, text)
    return {"name": name, "source": plan.source, "target": plan.target, "key": plan.key}


class ActionIn(BaseModel):
    run: str | None = Field(default=None, description="rollback: the run to undo")


@router.post("/migrations/{name}/{action}", status_code=202)
async def start_action(
    name: str, action: str, response: Response, container: ContainerDep, principal: CurrentPrincipal,
    body: ActionIn | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Queue ``plan`` (dry run), ``run``, ``incremental``, ``verify`` or ``rollback`` (with ``run``)."""
    try:
        chosen = MigrationAction(action)
    except ValueError:
        raise InvalidInput("action: expected one of {allowed}, got {value!r}", field="action", value=action,
                           allowed=", ".join(a.value for a in MigrationAction)) from None  # fmt: skip
    run_id = body.run if body else None
    state = await run_in_threadpool(container.migrations.start, principal, name, chosen, run_id=run_id)
    response.headers["Location"] = f"/api/v1/data/migration-jobs/{state['job']}"
    return state


@router.get("/migration-jobs/{job}")
async def migration_job(job: str, container: ContainerDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """A queued migration action: ``state`` (queued, running, done, failed), progress and result."""
    return await run_in_threadpool(container.migrations.job, principal, job)
