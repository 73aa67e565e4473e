"""Connect › Data quality and Connect › Migrations.

Data quality: upload a table, see its profile (ECharts: null rate per column, top values and pattern
classes of a chosen column) and the duplicate clusters, decide per cluster *merge* or *keep apart*,
save those decisions (stored per record pair of the dataset, audited, honoured whenever the dataset
is checked again) and download the golden records of the merged clusters. The upload is not stored:
the review form carries each cluster's record ids and golden record in hidden fields.

Migrations: plans (YAML), their dry run, run, verify and rollback queued as jobs, progress polled
with htmx, the runs of the target's journal with a rollback button for who may write.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._templates import render
from isthmus.errors import Conflict, InvalidInput, PayloadTooLarge
from isthmus.i18n import N_
from isthmus.quality import (
    Decision,
    apply_rules,
    config_from_mapping,
    golden_records,
    parse_rules,
    profile,
    read_table,
    record_ids,
)
from isthmus.security import Principal
from isthmus.services.quality import MigrationAction

router = APIRouter(prefix="/data", route_class=WebRoute)
register_page(Page(Stage.CONNECT, "data", N_("Data quality"), "/data", "data:read"))
register_page(Page(Stage.CONNECT, "migrations", N_("Migrations"), "/data/migrations", "data:read"))

CHUNK = 1024 * 1024
SHOWN = 100


@router.get("", include_in_schema=False)
def data_page(request: Request, principal: WebPrincipal) -> Response:
    principal.require("data:read")
    return render(request, "quality/data.html", {"result": None, "error": None})


def _review(container: WebContainer, principal: Principal, path: Path, rules_text: str, dataset: str) -> dict[str, Any]:  # fmt: skip
    frame = read_table(path)
    rules = parse_rules(rules_text, file="rules")
    cleaned = apply_rules(frame, rules.rules).as_dict()["rules"] if rules.rules else []
    result = container.quality.dedupe(principal, dataset, frame, config_from_mapping(rules.dedupe))
    shown = result.clusters[:SHOWN]
    golden = golden_records(frame, shown).drop("cluster", "rows").to_dicts() if shown else []
    ids = record_ids(frame)
    report = profile(frame, source=path.name)
    return {
        "name": path.name,
        "dataset": dataset,
        "profile": report,
        "cleaned": cleaned,
        "chart": report.as_dict(),
        "columns": frame.columns,
        "clusters": [
            {
                "rows": list(c.rows),
                "score": c.score,
                "members": [frame.row(r) for r in c.rows],
                "records": ",".join(ids[r] for r in c.rows),
                "golden": json.dumps(g, ensure_ascii=False),
            }
            for c, g in zip(shown, golden, strict=True)
        ],
        "total": len(result.clusters),
    }


@router.post("", include_in_schema=False)
async def data_upload(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    file: Annotated[UploadFile | None, File()] = None,
    rules: Annotated[str, Form()] = "",
    dataset: Annotated[str, Form()] = "",
) -> Response:
    principal.require("data:read")
    try:
        if file is None or not file.filename:
            raise InvalidInput("choose a table to check")
        limit = container.settings.max_upload_bytes
        with tempfile.TemporaryDirectory(prefix="isthmus-data-") as folder:
            path = Path(folder) / Path(file.filename).name
            size = 0
            with path.open("wb") as out:
                while chunk := await file.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
                    out.write(chunk)
            name = dataset.strip() or path.name
            result = await run_in_threadpool(_review, container, principal, path, rules, name)
    except InvalidInput as error:
        return render(request, "quality/data.html", {"result": None, "error": error}, status_code=422)
    return render(request, "quality/data.html", {"result": result, "error": None})


@router.post("/golden", include_in_schema=False)
async def golden_download(request: Request, principal: WebPrincipal) -> Response:
    """The golden records of the clusters marked *merge*, as CSV (UTF-8 with BOM for Excel)."""
    principal.require("data:read")
    form = await request.form()
    records = []
    for key, value in form.multi_items():
        if key.startswith("decision-") and value == "merge":
            golden = form.get("golden-" + key.removeprefix("decision-"))
            if isinstance(golden, str):
                records.append(json.loads(golden))
    out = io.StringIO()
    if records:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="golden-records.csv"'},
    )


@router.post("/review", include_in_schema=False)
async def save_review(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    """Store each cluster's decision (merge / keep apart) for the dataset; audited, applied on re-runs."""
    principal.require("data:clean")
    form = await request.form()
    dataset = str(form.get("dataset") or "")
    saved = 0
    for key, value in form.multi_items():
        if key.startswith("decision-") and isinstance(value, str):
            records = str(form.get("records-" + key.removeprefix("decision-")) or "").split(",")
            await run_in_threadpool(
                container.quality.decide, principal, dataset, records, Decision.parse(value)
            )
            saved += 1
    return render(
        request, "quality/data.html", {"result": None, "error": None, "saved": saved, "dataset": dataset}
    )


# -- migrations ---------------------------------------------------------------------------------------


@router.get("/migrations", include_in_schema=False)
def migrations_page(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    plans = container.migrations.plans(principal)
    return render(request, "quality/migrations.html", {"plans": plans, "error": None, "name": "", "text": ""})


@router.post("/migrations", include_in_schema=False)
def save_plan(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    name: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    """Store a plan; a plan that does not parse comes back with the error naming its line."""
    try:
        container.migrations.save_plan(principal, name.strip(), text)
    except InvalidInput as error:
        plans = container.migrations.plans(principal)
        context = {"plans": plans, "error": error, "name": name, "text": text}
        return render(request, "quality/migrations.html", context, status_code=422)
    return RedirectResponse(f"/data/migrations/{name.strip()}", status_code=303)


@router.get("/migrations/jobs/{job}", include_in_schema=False)
def migration_job(request: Request, job: str, container: WebContainer, principal: WebPrincipal) -> Response:
    """The job's state as a fragment, polled by htmx every second until it is finished."""
    return render(request, "quality/_migration_job.html", {"job": container.migrations.job(principal, job)})


@router.get("/migrations/{name}", include_in_schema=False)
def migration_page(request: Request, name: str, container: WebContainer, principal: WebPrincipal) -> Response:
    text, plan = container.migrations.plan(principal, name)
    try:
        runs, runs_error = container.migrations.runs(principal, name), None
    except InvalidInput as error:  # the target is not reachable or not there: the page still shows the plan
        runs, runs_error = [], error
    context = {"name": name, "text": text, "plan": plan, "runs": runs, "runs_error": runs_error, "job": None, "error": None}  # fmt: skip
    return render(request, "quality/migration.html", context)


@router.post("/migrations/{name}/{action}", include_in_schema=False)
def start_migration(
    request: Request,
    name: str,
    action: str,
    container: WebContainer,
    principal: WebPrincipal,
    run: Annotated[str, Form()] = "",
) -> Response:
    """Queue an action (rollback is checked against ``data:clean`` like a run); show its progress."""
    try:
        chosen = MigrationAction(action)
    except ValueError:
        raise InvalidInput("action: unknown migration action {value!r}", value=action) from None
    text, plan = container.migrations.plan(principal, name)
    job, error = None, None
    try:
        job = container.migrations.start(principal, name, chosen, run_id=run or None)
    except (InvalidInput, Conflict) as problem:
        error = problem
    try:
        runs, runs_error = container.migrations.runs(principal, name), None
    except InvalidInput as problem:
        runs, runs_error = [], problem
    context = {"name": name, "text": text, "plan": plan, "runs": runs, "runs_error": runs_error, "job": job, "error": error}  # fmt: skip
    return render(request, "quality/migration.html", context, status_code=202 if job else 422)
