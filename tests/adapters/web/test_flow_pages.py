"""Connect › integration flows through the real app: table 2 and its Excel export, a flow's page with
its metrics (and the metrics API), run now, a flow test as a job the page polls, the flow form (YAML
and structured, errors by line and field), the dead letters (replay one or many, discard with a
reason, audited) — with permission denials and CSRF refusals."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from isthmus.bootstrap import Container
from isthmus.demo.integration import SandboxApi
from isthmus.integration import GUIDE_HEADERS, MessageState, NewMessage
from isthmus.security import SYSTEM
from tests.adapters.web.web_client import TestClient, sign_in, visible_text

ORDERS = """\
flow: crm-erp-orders
source: {system: CRM, connector: webhook}
target:
  system: ERP
  connector: http
  options: {url: "URL/orders"}
trigger: {webhook: true}
mapping:
  vbeln: order_id
  kunnr: cust_code
validate:
  - rule: 'matches(phone, "^1\\\\d{10}$")'
    message: phone must be 11 digits
idempotency_key: order_id
security: API + OAuth 2.0
owner: 李*
go_live: 2024-06-30
"""
GOOD = {"order_id": "SO-1", "cust_code": "C1", "phone": "13800138000"}
BAD = {"order_id": "SO-2", "cust_code": "C2", "phone": "138-0013"}


@pytest.fixture
def sandbox() -> Iterator[SandboxApi]:
    with SandboxApi() as api:
        yield api


@pytest.fixture
def orders(container: Container, sandbox: SandboxApi) -> str:
    """The flow deployed, one good record accepted and one rejected (dead-lettered, row 2)."""
    text = ORDERS.replace("URL", sandbox.url)
    container.flows.deploy(SYSTEM, text)
    report = container.flows.accept(SYSTEM, "crm-erp-orders", [GOOD, BAD], first_row=1)
    assert (report.accepted, report.rejected) == (1, 1)
    return text


def _dead_letters(container: Container) -> list[int]:
    dead = container.flows.messages(SYSTEM, states=(MessageState.DEAD_LETTERED,))
    return [m.id for m in dead]


def test_table2_in_the_menu_with_the_guides_columns(client: TestClient, orders: str) -> None:
    sign_in(client, "owner")  # process owners read flows
    home = client.get("/").text
    assert 'href="/flows"' in home
    assert 'href="/dead-letters"' in home
    client.get("/language/en")
    page = client.get("/flows")
    assert page.status_code == 200
    text = visible_text(page.text)
    for header in ("System A", "System B", "Direction", "Field mapping", "Exchange frequency"):
        assert header in text
    for header in ("Interface type", "Security requirements", "Developer", "Test status", "Go-live date"):
        assert header in text
    assert "CRM.order_id→ERP.vbeln, CRM.cust_code→ERP.kunnr" in text
    assert "Not tested" in text
    assert "Messages · failures · backlog" in text
    assert re.search(
        r">2</a> · <span class=\"is-bad\">1</span> · 1<", page.text
    )  # 2 messages, 1 dead, 1 waiting
    assert "2024-06-30" in text
    assert "New flow" not in text  # owners do not deploy flows


def test_export_is_the_guides_layout(client: TestClient, orders: str) -> None:
    sign_in(client, "auditor")
    response = client.get("/flows/export.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    assert sheet.title == "系统对接需求明细表"
    rows = [tuple(c.value for c in row) for row in sheet.iter_rows()]
    assert rows[0] == GUIDE_HEADERS
    assert rows[1][:3] == ("CRM", "ERP", "CRM→ERP")
    assert rows[1][8] == "未开始"


def test_the_flow_page_and_the_metrics_api(client: TestClient, container: Container, orders: str) -> None:
    container.job_runner().run_until_idle()  # delivers SO-1 to the sandbox
    sign_in(client, "integrator")
    client.get("/language/en")
    page = client.get("/flows/crm-erp-orders")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "POST /hooks/crm-erp-orders" in text
    assert re.search(r'id="m-messages">2<', page.text)
    assert re.search(r'id="m-failures" class="is-bad">1<', page.text)
    assert "Run now" not in text  # a webhook flow is pushed, not pulled
    assert "Run flow test" in text
    assert "matches(phone" in page.text  # the YAML, read-only
    chart = json.loads(re.search(r'id="flow-chart-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    assert sum(chart["messages"]) == 2
    assert sum(chart["failures"]) == 1
    assert "<script>" not in page.text
    week = client.get("/flows/crm-erp-orders", params={"window": "7d"})
    assert 'aria-current="true">7 days' in week.text

    api = client.get("/api/v1/flows/crm-erp-orders/metrics", params={"window": "7d"})
    assert api.status_code == 200
    body = api.json()
    assert (body["messages"], body["delivered"], body["failures"], body["backlog"]) == (2, 1, 1, 0)
    assert set(body["latency_ms"]) == {"p50", "p95", "p99"}
    assert len(body["timeline"]) == 29  # 7 days of 6-hour bars, both ends included
    assert client.get("/api/v1/flows/crm-erp-orders/metrics", params={"window": "1y"}).status_code == 422
    assert client.get("/api/v1/flows/nope/metrics").status_code == 404


def test_viewers_are_refused_and_auditors_only_read(client: TestClient, orders: str) -> None:
    sign_in(client, "viewer")
    assert 'href="/flows"' not in client.get("/").text
    refused = client.get("/flows")
    assert refused.status_code == 403
    assert "flow:read" in refused.text
    assert client.get("/api/v1/flows/crm-erp-orders/metrics").status_code == 403

    client.cookies.clear()
    csrf = sign_in(client, "auditor")
    page = client.get("/flows/crm-erp-orders").text
    assert "/flows/crm-erp-orders/test" not in page
    assert client.get("/flows/new").status_code == 403
    posted = client.post("/flows/crm-erp-orders/test", data={"csrf_token": csrf, "sample": json.dumps(GOOD)})
    assert posted.status_code == 403
    assert "flow:operate" in posted.text
    replay = client.post("/dead-letters/replay", data={"csrf_token": csrf, "ids": "1"})
    assert replay.status_code == 403
    assert client.get("/flows/crm-erp-orders/edit").status_code == 403
    deploy = client.post("/flows/new", data={"csrf_token": csrf, "mode": "yaml", "yaml": orders})
    assert deploy.status_code == 403
    assert "flow:deploy" in deploy.text


def test_a_flow_test_runs_as_a_job_and_the_page_polls_it(
    client: TestClient, container: Container, orders: str
) -> None:
    csrf = sign_in(client, "integrator")
    client.get("/language/en")
    no_csrf = client.post("/flows/crm-erp-orders/test", data={"sample": json.dumps(GOOD)})
    assert no_csrf.status_code == 403
    plain = client.post(  # without htmx: back to the page, which shows the queued run
        "/flows/crm-erp-orders/test",
        data={"csrf_token": csrf, "sample": json.dumps(GOOD)},
        follow_redirects=False,
    )
    assert plain.status_code == 303
    assert 'data-state="queued"' in client.get(plain.headers["location"]).text
    bad = client.post(
        "/flows/crm-erp-orders/test",
        data={"csrf_token": csrf, "sample": "{not json"},
        headers={"HX-Request": "true"},
    )
    assert "not JSON" in visible_text(bad.text)
    started = client.post(
        "/flows/crm-erp-orders/test",
        data={"csrf_token": csrf, "sample": json.dumps(GOOD)},
        headers={"HX-Request": "true"},
    )
    assert started.status_code == 200
    poll = re.search(r'hx-get="(/flows/crm-erp-orders/tests/[^"]+)"', started.text)
    assert poll, started.text
    assert 'data-state="queued"' in started.text

    container.job_runner().run_until_idle()  # the worker: six scenarios against the sandbox

    done = client.get(poll.group(1))
    assert 'data-state="passed"' in done.text, visible_text(done.text)
    assert "hx-get" not in done.text  # finished: the polling stops
    assert visible_text(done.text).count("✔") == 6
    client.get("/language/en")
    assert "Tests passed" in visible_text(client.get("/flows").text)
    assert 'data-state="passed"' in client.get("/flows/crm-erp-orders").text  # the last run, shown again


def test_run_now_pulls_a_file_source(client: TestClient, container: Container, tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "oa", tmp_path / "hr"
    inbox.mkdir()
    (inbox / "employees.csv").write_text("emp_id,name\nE0001,张三\nE0002,李四\n", encoding="utf-8")
    container.flows.deploy(
        SYSTEM,
        "flow: oa-hr\n"
        f"source: {{system: OA, connector: files, options: {{folder: '{inbox}', format: csv}}}}\n"
        f"target: {{system: HR, connector: files, options: {{folder: '{outbox}', format: csv}}}}\n"
        "trigger: {poll: 60s}\nmapping: {emp_id: emp_id, name: name}\nidempotency_key: emp_id\n",
    )
    csrf = sign_in(client, "integrator")
    assert "/flows/oa-hr/run" in client.get("/flows/oa-hr").text
    assert client.post("/flows/oa-hr/run").status_code == 403  # no CSRF token
    ran = client.post("/flows/oa-hr/run", data={"csrf_token": csrf}, follow_redirects=False)
    assert ran.status_code == 303
    assert ran.headers["location"] == "/flows/oa-hr?ran=2.0.0"
    client.get("/language/en")
    assert "2 accepted" in visible_text(client.get(ran.headers["location"]).text)
    assert container.flow_metrics.metrics(SYSTEM, "oa-hr").backlog == 2


def _form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "flow": "erp-fic-daily",
        "owner": "王*",
        "security": "SSL + IP allow-list",
        "go_live": "2024-07-15",
        "source_system": "ERP",
        "source_connector": "sql",
        "trigger_kind": "cron",
        "poll": "",
        "cron": "0 22 * * *",
        "timezone": "Asia/Shanghai",
        "target_system": "FIC",
        "target_connector": "sql",
        "idempotency_key": "belnr",
        "attempts": "4",
        "backoff": "2s",
        "timeout": "10s",
        "map_target": ["belnr", "amount", ""],
        "map_expression": ["belnr", "dmbtr", ""],
        "yaml": "target: {options: {url: 'sqlite:///fic.db', table: fic, key: [belnr]}}\n",
        "mode": "form",
    }
    data.update(overrides)
    return data


def test_the_structured_form_writes_and_deploys_the_yaml(client: TestClient, container: Container) -> None:
    csrf = sign_in(client, "integrator")
    form = client.get("/flows/new")
    assert form.status_code == 200
    assert 'name="map_target"' in form.text
    preview = client.post("/flows/new", data={"csrf_token": csrf, **_form(mode="preview")})
    assert preview.status_code == 200
    assert container.flows.list(SYSTEM) == []  # a preview deploys nothing
    shown = re.search(r'<textarea id="f-yaml"[^>]*>(.*?)</textarea>', preview.text, re.S)
    assert shown
    assert "0 22 * * *" in shown.group(1)

    live = client.post(
        "/flows/new",
        data={"csrf_token": csrf, **_form(mode="preview", cron="30 6 * * 1")},
        headers={"HX-Request": "true", "HX-Target": "f-yaml"},
    )
    assert live.text.strip().startswith('<textarea id="f-yaml"')  # only the editor, for htmx to swap
    assert "30 6 * * 1" in live.text

    saved = client.post("/flows/new", data={"csrf_token": csrf, **_form()}, follow_redirects=False)
    assert saved.status_code == 303, visible_text(saved.text)
    assert saved.headers["location"] == "/flows/erp-fic-daily?deployed=1"
    deployed, flow = container.flows.get(SYSTEM, "erp-fic-daily")
    assert flow.trigger.cron is not None
    assert (flow.trigger.cron.text, flow.trigger.cron.timezone) == ("0 22 * * *", "Asia/Shanghai")
    assert flow.mapping == {"belnr": "belnr", "amount": "dmbtr"}
    assert flow.target.options["table"] == "fic"  # a key the form does not show, kept from the YAML
    assert flow.owner == "王*"

    edit = client.get("/flows/erp-fic-daily/edit")
    assert 'value="0 22 * * *"' in edit.text
    values = yaml.safe_load(deployed.text)
    assert values["delivery"] == {"attempts": 4, "backoff": "2s", "timeout": "10s"}


def test_form_errors_name_the_field_and_the_line(client: TestClient, container: Container) -> None:
    csrf = sign_in(client, "integrator")
    bad = client.post(
        "/flows/new",
        data={"csrf_token": csrf, **_form(cron="0 25 * * *", map_expression=["belnr", "dmbtr +", ""])},
    )
    assert bad.status_code == 422
    assert re.search(r'id="f-cron"[^>]*aria-invalid="true"', bad.text)
    assert 'id="f-mapping-error"' in bad.text
    assert "trigger.cron" in bad.text
    assert "mapping.amount" in bad.text
    assert 'value="0 25 * * *"' in bad.text  # what was typed stays
    assert container.flows.list(SYSTEM) == []

    yaml_bad = "flow: x\nsource: {system: A, connector: webhook}\ntarget: {system: B, connector: http}\nmapping:\n  a: b +\nidempotency_key: a\n"
    raw = client.post("/flows/new", data={"csrf_token": csrf, "mode": "yaml", "yaml": yaml_bad})
    assert raw.status_code == 422
    client.get("/language/en")
    raw = client.post("/flows/new", data={"csrf_token": csrf, "mode": "yaml", "yaml": yaml_bad})
    assert "line 5 · mapping.a" in visible_text(raw.text)
    assert client.post("/flows/new", data={"mode": "yaml", "yaml": yaml_bad}).status_code == 403  # CSRF
    assert (
        client.post("/flows/new", data={"csrf_token": csrf, "mode": "yaml", "yaml": "flow: [\n"}).status_code
        == 422
    )


def test_dead_letters_replay_and_discard_are_audited(
    client: TestClient, container: Container, orders: str, sandbox: SandboxApi
) -> None:
    with container.database.unit_of_work() as uow:  # a delivery that failed for good
        failed = uow.flows.add_message(
            NewMessage(
                flow_id="crm-erp-orders", idempotency_key="SO-3", payload={}, display={"telf1": "138****8000"}
            ),
            container.clock.now(),
        )
        assert failed is not None
        uow.flows.save_message(
            replace(failed, state=MessageState.DEAD_LETTERED, attempts=4, last_error="HTTP 503")
        )
        uow.commit()
    rejected, delivery = _dead_letters(container)
    csrf = sign_in(client, "integrator")
    page = client.get("/dead-letters")
    text = visible_text(page.text)
    assert "phone must be 11 digits" in text
    assert "138****8000" in text  # the masked copy, never the payload
    assert "HTTP 503" in visible_text(client.get("/dead-letters", params={"q": "503"}).text)
    assert "phone must be" not in visible_text(client.get("/dead-letters", params={"q": "503"}).text)
    assert client.post("/dead-letters/replay", data={"ids": str(delivery)}).status_code == 403  # no CSRF

    still = client.post("/dead-letters/replay", data={"csrf_token": csrf, "ids": str(rejected)})
    assert still.status_code == 422  # the flow still rejects row 2
    assert "still rejected" in visible_text(still.text)

    container.flows.deploy(SYSTEM, orders.replace("validate:", "x_validate:"))  # the fix
    both = client.post(
        "/dead-letters/replay",
        data={"csrf_token": csrf, "ids": [str(rejected), str(delivery)]},
        follow_redirects=False,
    )
    assert both.status_code == 303
    assert "replayed=2" in both.headers["location"]
    assert _dead_letters(container) == []
    trail, _ = container.audit.search(SYSTEM, action="flow.replay")
    assert sorted(r.event.object_id for r in trail) == sorted([str(rejected), str(delivery)])

    container.job_runner().run_until_idle()
    assert "SO-2" in sandbox.records["/orders"]  # the fixed record reached the target

    with container.database.unit_of_work() as uow:
        message = uow.flows.message(delivery)
        assert message is not None
        uow.flows.save_message(replace(message, state=MessageState.DEAD_LETTERED))
        uow.commit()
    no_reason = client.post(
        "/dead-letters/discard", data={"csrf_token": csrf, "ids": str(delivery), "reason": ""}
    )
    assert no_reason.status_code == 422
    gone = client.post(
        "/dead-letters/discard",
        data={"csrf_token": csrf, "ids": str(delivery), "reason": "customer withdrew the order"},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    trail, _ = container.audit.search(SYSTEM, action="flow.discard")
    assert [r.event.after for r in trail] == [{"reason": "customer withdrew the order"}]


def test_deploying_an_uploaded_yaml_file(
    client: TestClient, container: Container, sandbox: SandboxApi
) -> None:
    csrf = sign_in(client, "integrator")
    text = ORDERS.replace("URL", sandbox.url)
    done = client.post(
        "/flows",
        data={"csrf_token": csrf},
        files={"file": ("crm-erp.yaml", text.encode(), "text/yaml")},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/flows/crm-erp-orders?deployed=1"
    bad = client.post(
        "/flows",
        data={"csrf_token": csrf},
        files={"file": ("bad.yaml", text.replace("order_id\n", "order_id +\n").encode(), "text/yaml")},
    )
    assert bad.status_code == 422
    client.get("/language/en")
    bad = client.post(
        "/flows",
        data={"csrf_token": csrf},
        files={"file": ("bad.yaml", text.replace("order_id\n", "order_id +\n").encode(), "text/yaml")},
    )
    assert "line 9 · mapping.vbeln" in visible_text(bad.text)
    assert container.flows.get(SYSTEM, "crm-erp-orders")[0].version == 1
    assert client.post("/flows", files={"file": ("x.yaml", text.encode())}).status_code == 403  # CSRF


def test_the_one_hour_window_and_bounded_percentiles_said_on_the_page(
    client: TestClient, container: Container, orders: str
) -> None:
    from isthmus.adapters.storage.flow_metrics import SqlFlowMetrics
    from isthmus.services.flow_metrics import FlowMetricsService

    container.job_runner().run_until_idle()
    sign_in(client, "integrator")
    client.get("/language/en")
    hour = client.get("/flows/crm-erp-orders", params={"window": "1h"})
    assert 'aria-current="true">1 hour' in hour.text
    assert "newest" not in visible_text(hour.text)
    api = client.get("/api/v1/flows/crm-erp-orders/metrics", params={"window": "1h"}).json()
    assert (api["window"], api["latency_exact"], len(api["timeline"])) == ("1h", True, 61)

    # a bound smaller than the window's deliveries (SQLite only: PostgreSQL always ranks them all)
    bounded = SqlFlowMetrics(container.database.engine, latency_sample=0)
    container.flow_metrics = FlowMetricsService(bounded, container.clock, container.flows.get)
    sqlite = container.database.engine.dialect.name == "sqlite"
    page = visible_text(client.get("/flows/crm-erp-orders").text)
    assert ("Latency percentiles read the newest 0 deliveries of the window." in page) is sqlite
    assert client.get("/api/v1/flows/crm-erp-orders/metrics").json()["latency_exact"] is not sqlite
