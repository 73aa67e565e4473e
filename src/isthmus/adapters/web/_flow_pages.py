"""Connect › integration flows: the guide's table 2 live, its Excel export, and a flow's page —
definition, trigger, mapping, recent messages, metrics with a chart, and the actions run now, flow
test (a background job the page polls) and deploy (the form in ``_flow_form``).

Every action goes through the services (``FlowService``, ``FlowMetricsService``, ``FlowTestRuns``),
which check the permission and audit; the pages only translate. Chart data reaches
``static/js/flows.js`` as a JSON ``<script>`` block (CSP: no inline JS).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.connectors.sources import pull
from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._redirects import with_query
from isthmus.adapters.web._templates import is_htmx, render
from isthmus.adapters.web._uploads import read_text_upload
from isthmus.bootstrap import Container
from isthmus.errors import InvalidInput
from isthmus.i18n import N_
from isthmus.integration import TestStatus, TriggerKind, table2_row, table2_workbook
from isthmus.security import Principal, is_allowed
from isthmus.services.flow_metrics import DEFAULT_WINDOW, WINDOWS, FlowMetricsReport
from isthmus.services.flow_tests import TestRun

router = APIRouter(prefix="/flows", route_class=WebRoute)
register_page(Page(Stage.CONNECT, "flows", N_("Integration flows"), "/flows", "flow:read"))
register_page(Page(Stage.CONNECT, "dead-letters", N_("Dead letters"), "/dead-letters", "flow:read"))

# The guide's table 2 headers (COLUMNS, in Chinese) as English msgids; zh_CN translates them back.
COLUMN_LABELS = (
    N_("System A"),
    N_("System B"),
    N_("Direction"),
    N_("Field mapping"),
    N_("Exchange frequency"),
    N_("Interface type"),
    N_("Security requirements"),
    N_("Developer"),
    N_("Test status"),
    N_("Go-live date"),
)
TEST_STATUS_LABELS = {
    TestStatus.NOT_STARTED: N_("Not tested"),
    TestStatus.PASSED: N_("Tests passed"),
    TestStatus.FAILED: N_("Tests failing"),
}
WINDOW_LABELS = {"1h": N_("1 hour"), "24h": N_("24 hours"), "7d": N_("7 days"), "30d": N_("30 days")}
STATE_LABELS = {
    "pending": N_("Pending"),
    "retrying": N_("Retrying"),
    "delivered": N_("Delivered"),
    "dead_lettered": N_("Dead-lettered"),
    "discarded": N_("Discarded"),
}
PULLED = ("files", "sql")  # sources Isthmus reads; the others push (webhook)
RECENT = 20
SHEET = "系统对接需求明细表"


def _can(principal: Principal, permission: str) -> bool:
    return is_allowed(principal.roles, permission)


def _list_context(container: Container, principal: Principal) -> dict[str, Any]:
    return {
        "rows": container.flows.table2(principal),
        "figures": container.flow_metrics.overview(principal),
        "status": {d.flow_id: d.test_status for d in container.flows.list(principal)},
        "labels": COLUMN_LABELS,
        "status_labels": TEST_STATUS_LABELS,
        "deploy_error": None,
    }


@router.get("", include_in_schema=False)
def flow_list(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    return render(request, "flows/list.html", _list_context(container, principal))


@router.post("", include_in_schema=False)
async def flow_upload(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Deploy an uploaded flow YAML; a bad file shows the list again with every problem."""
    try:
        missing = InvalidInput("choose a flow YAML file to deploy")
        text, name = await read_text_upload(file, container.settings.max_upload_bytes, missing=missing)
        stored = await run_in_threadpool(container.flows.deploy, principal, text, name)
    except InvalidInput as error:
        context = await run_in_threadpool(_list_context, container, principal)
        context["deploy_error"] = error
        return render(request, "flows/list.html", context, status_code=422)
    target = with_query(f"/flows/{quote(stored.flow_id)}", deployed=str(stored.version))
    return RedirectResponse(target, status_code=303)


@router.get("/export.xlsx", include_in_schema=False)
def flow_export(container: WebContainer, principal: WebPrincipal) -> Response:
    """Table 2 in the guide's layout: its sheet name, its ten Chinese headers, one row per flow."""
    content = table2_workbook(container.flows.table2(principal))
    name = quote(f"{SHEET}.xlsx")
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=table2.xlsx; filename*=UTF-8''{name}"},
    )


def _chart(report: FlowMetricsReport) -> dict[str, Any]:
    return {
        "times": [datetime.fromtimestamp(b.start_s, tz=UTC).isoformat() for b in report.timeline],
        "messages": [b.messages for b in report.timeline],
        "failures": [b.failures for b in report.timeline],
        "latency_avg": [
            None if b.latency_avg_ms is None else round(b.latency_avg_ms, 1) for b in report.timeline
        ],
        "latency_max": [
            None if b.latency_max_ms is None else round(b.latency_max_ms, 1) for b in report.timeline
        ],
        "bucket_s": WINDOWS[report.window].bucket_s,
    }


def _sample_skeleton(mapping: dict[str, str], last: dict[str, Any] | None) -> str:
    """The sample to prefill: the last run's, else the plain source fields the mapping reads."""
    if last:
        return json.dumps(last, ensure_ascii=False, indent=2)
    fields = {e.strip(): "" for e in mapping.values() if e.strip().isidentifier()}
    return json.dumps(fields or {"id": ""}, ensure_ascii=False, indent=2)


@router.get("/{flow_id}", include_in_schema=False)
def flow_page(
    request: Request,
    flow_id: str,
    container: WebContainer,
    principal: WebPrincipal,
    window: str = DEFAULT_WINDOW,
    deployed: str = "",
    ran: str = "",
) -> Response:
    stored, flow = container.flows.get(principal, flow_id)
    if window not in WINDOWS:
        window = DEFAULT_WINDOW
    report = container.flow_metrics.metrics(principal, flow_id, window)
    last_test = container.flow_tests.latest(principal, flow_id)
    now = container.clock.now()
    next_run = flow.trigger.cron.next_after(now) if flow.trigger.cron is not None else None
    transforms = {t.field: t for t in flow.transforms}
    context: dict[str, Any] = {
        "deployed": stored,
        "flow": flow,
        "row": table2_row(flow, stored),
        "labels": COLUMN_LABELS,
        "status_labels": TEST_STATUS_LABELS,
        "state_labels": STATE_LABELS,
        "window_labels": WINDOW_LABELS,
        "report": report,
        "chart": _chart(report),
        "recent": container.flow_metrics.recent(principal, flow_id, RECENT),
        "transforms": transforms,
        "next_run": next_run,
        "pulled": flow.source.connector in PULLED,
        "webhook": flow.trigger.kind is TriggerKind.WEBHOOK or flow.source.connector == "webhook",
        "run": last_test,
        "sample": _sample_skeleton(flow.mapping, last_test.sample if last_test else None),
        "just_deployed": deployed,
        "ran": _ran(ran),
        "sample_error": None,
    }
    return render(request, "flows/detail.html", context)


def _ran(text: str) -> dict[str, int] | None:
    """``accepted.duplicates.rejected`` from the redirect after "run now"."""
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return dict(zip(("accepted", "duplicates", "rejected"), map(int, parts), strict=True))


@router.post("/{flow_id}/run", include_in_schema=False)
async def flow_run(flow_id: str, container: WebContainer, principal: WebPrincipal) -> Response:
    """Pull what is new at the source into the outbox now; the worker delivers it."""
    report = await run_in_threadpool(
        pull, container.flows, principal, flow_id, cursor_dir=container.settings.data_dir / "flow-cursors"
    )
    counts = report.as_dict()
    ran = f"{counts['accepted']}.{counts['duplicates']}.{counts['rejected']}"
    return RedirectResponse(with_query(f"/flows/{quote(flow_id)}", ran=ran), status_code=303)


@router.post("/{flow_id}/test", include_in_schema=False)
async def flow_test(
    request: Request,
    flow_id: str,
    container: WebContainer,
    principal: WebPrincipal,
    sample: Annotated[str, Form()] = "",
) -> Response:
    """Queue the flow's fault scenarios with the sample; the page then polls the run."""
    try:
        record = json.loads(sample or "null")
        if not isinstance(record, dict) or not record:
            raise InvalidInput("sample: expected one source record as a JSON object")
        run = await run_in_threadpool(container.flow_tests.start, principal, flow_id, record)
    except (json.JSONDecodeError, InvalidInput) as error:
        problem = (
            error
            if isinstance(error, InvalidInput)
            else InvalidInput("sample: not JSON ({error}, line {line})", error=error.msg, line=error.lineno)
        )
        if not is_htmx(request):
            raise problem from (None if problem is error else error)
        # htmx swaps only 2xx answers: the fragment with the error replaces the run area.
        context = {"flow_id": flow_id, "run": None, "sample": sample, "sample_error": problem}
        return render(request, "flows/_test_run.html", context)
    if is_htmx(request):
        return _test_fragment(request, flow_id, run, sample)
    return RedirectResponse(f"/flows/{quote(flow_id)}#flow-test", status_code=303)


def _test_fragment(request: Request, flow_id: str, run: TestRun, sample: str) -> Response:
    context = {"flow_id": flow_id, "run": run, "sample": sample, "sample_error": None}
    return render(request, "flows/_test_run.html", context)


@router.get("/{flow_id}/tests/{run_id}", include_in_schema=False)
def flow_test_progress(
    request: Request, flow_id: str, run_id: str, container: WebContainer, principal: WebPrincipal
) -> Response:
    """The run's progress as a fragment; htmx polls it until the run is finished."""
    run = container.flow_tests.get(principal, flow_id, run_id)
    sample = json.dumps(run.sample, ensure_ascii=False, indent=2)
    return _test_fragment(request, flow_id, run, sample)
