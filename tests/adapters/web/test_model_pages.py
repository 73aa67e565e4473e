"""Design › process models: the list, uploading a model, the modeler page with bpmn-js and its panel."""

from __future__ import annotations

from isthmus.bootstrap import Container
from isthmus.security import SYSTEM
from tests.adapters.web.web_client import TestClient, sign_in, visible_text
from tests.models._builders import bpmn, straight
from tests.models._files import fixture

ORDER = fixture("order-diagram.bpmn")


def test_the_modeler_page_loads_bpmn_js_and_the_panel(client: TestClient, container: Container) -> None:
    container.models.deploy(SYSTEM, ORDER, "order.bpmn")
    sign_in(client, "owner")

    listing = client.get("/models")
    assert listing.status_code == 200
    assert "Order entry" in visible_text(listing.text)
    assert 'href="/models"' in client.get("/").text  # in the menu, under Design

    page = client.get("/models/order")
    assert page.status_code == 200
    assert "/static/vendor/bpmn-js/bpmn-modeler.production.min.js" in page.text
    assert "/static/js/modeler-panel.js" in page.text
    assert 'data-xml-url="/api/v1/models/order/xml?version=1"' in page.text
    assert 'data-prop="isthmus:sla"' in page.text
    text = visible_text(page.text)
    for label in (
        "保存草稿",
        "部署",
        "检查",
        "负责人",
        "时限（SLA）",
        "候选组",
        "集成流",
        "条件（FEEL）",
        "表单字段",
    ):
        assert label in text
    assert "<script>" not in page.text  # the CSP allows no inline script
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self' 'unsafe-inline'" in policy  # diagram-js positions elements with style attributes
    script = client.get("/static/vendor/bpmn-js/bpmn-modeler.production.min.js")
    assert (script.status_code, "BpmnJS" in script.text) == (200, True)
    assert client.get("/static/vendor/bpmn-js/assets/bpmn-font/font/bpmn.woff2").status_code == 200
    assert client.get("/models/new").status_code == 200


def test_drafts_show_as_drafts(client: TestClient, container: Container) -> None:
    container.models.save_draft(SYSTEM, ORDER, "order.bpmn")
    sign_in(client, "owner")
    assert "草稿" in visible_text(client.get("/models").text)
    page = client.get("/models/order?saved=1")
    assert "已保存为草稿第 1 版" in visible_text(page.text)


def test_upload_deploys_and_a_refused_model_lists_its_problems(client: TestClient) -> None:
    csrf = sign_in(client, "owner")
    done = client.post(
        "/models",
        data={"csrf_token": csrf},
        files={"file": ("order.bpmn", ORDER, "application/xml")},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/models/order?version=1&deployed=1")
    assert "已部署为第 1 版" in visible_text(client.get(done.headers["location"]).text)

    invalid = bpmn('<startEvent id="s"/><task id="lonely"/><endEvent id="e"/>' + straight("s", "e"))
    bad = client.post(
        "/models", data={"csrf_token": csrf}, files={"file": ("bad.bpmn", invalid, "application/xml")}
    )
    assert bad.status_code == 422
    text = visible_text(bad.text)
    assert "模型未部署" in text
    assert "lonely" in text
    assert "第 5 行" in text


def test_who_may_see_what(client: TestClient) -> None:
    sign_in(client, "viewer")
    listing = client.get("/models")
    assert listing.status_code == 200  # viewers read models
    assert "部署模型" not in visible_text(listing.text)
    assert client.get("/models/new").status_code == 403
