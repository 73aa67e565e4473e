"""Connect › Data quality: upload a table, see its profile and the duplicate clusters, decide per
cluster *merge* or *keep apart*, and download the golden records of the merged ones.

Stateless: the review form carries each cluster's golden record (JSON in a hidden field) and the
decision; nothing is stored until the migration or flow that uses the result.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._templates import render
from isthmus.errors import InvalidInput, PayloadTooLarge
from isthmus.i18n import N_
from isthmus.quality import config_from_mapping, dedupe, golden_records, parse_rules, profile, read_table

router = APIRouter(prefix="/data", route_class=WebRoute)
register_page(Page(Stage.CONNECT, "data", N_("Data quality"), "/data", "data:read"))

CHUNK = 1024 * 1024
SHOWN = 100


@router.get("", include_in_schema=False)
def data_page(request: Request, principal: WebPrincipal) -> Response:
    principal.require("data:read")
    return render(request, "quality/data.html", {"result": None, "error": None})


def _review(path: Path, rules_text: str) -> dict[str, Any]:
    frame = read_table(path)
    rules = parse_rules(rules_text, file="rules")
    result = dedupe(frame, config_from_mapping(rules.dedupe), file=path.name)
    shown = result.clusters[:SHOWN]
    golden = golden_records(frame, shown).drop("cluster", "rows").to_dicts() if shown else []
    return {
        "name": path.name,
        "profile": profile(frame, source=path.name),
        "columns": frame.columns,
        "clusters": [
            {
                "rows": list(c.rows),
                "score": c.score,
                "members": [frame.row(r) for r in c.rows],
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
            result = await run_in_threadpool(_review, path, rules)
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
