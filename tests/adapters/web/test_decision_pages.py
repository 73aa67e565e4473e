"""Design › decisions: the list, uploading a model, the model page with dmn-js and the test form."""

from __future__ import annotations

from pathlib import Path

from isthmus.bootstrap import Container
from isthmus.demo import deploy_demo_decisions
from isthmus.security import SYSTEM
from tests.adapters.web.web_client import TestClient, sign_in, visible_text

DEMO = Path(__file__).parents[3] / "src" / "isthmus" / "demo" / "decisions"


def test_the_model_page_shows_dmn_js_and_the_test_form(client: TestClient, container: Container) -> None:
    deploy_demo_decisions(SYSTEM, container.decisions)
    sign_in(client, "owner")

    listing = client.get("/decisions")
    assert listing.status_code == 200
    assert "Tiered approval" in visible_text(listing.text)
    assert 'href="/decisions"' in client.get("/").text  # in the menu, under Design

    page = client.get("/decisions/tiered_approval")
    assert page.status_code == 200
    assert "/static/vendor/dmn-js/dmn-modeler.production.min.js" in page.text
    assert "/static/js/decisions.js" in page.text
    assert 'data-xml-url="/api/v1/decisions/tiered_approval/xml?version=1"' in page.text
    assert 'data-input="amount" data-type="number"' in page.text
    text = visible_text(page.text)
    assert "测试此决策" in text
    assert "另存为新版本" in text
    assert "<script>" not in page.text  # the CSP allows no inline script
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self' 'unsafe-inline'" in policy  # dmn-js positions elements with style attributes
    assert "style-src 'self';" in listing.headers["content-security-policy"]
    script = client.get("/static/vendor/dmn-js/dmn-modeler.production.min.js?v=1")
    assert (script.status_code, "DmnJS" in script.text) == (200, True)
    font = client.get("/static/vendor/dmn-js/assets/dmn-font/font/dmn.woff2")
    assert font.status_code == 200


def test_upload_deploys_and_bad_files_show_the_line(client: TestClient) -> None:
    csrf = sign_in(client, "expert")
    data = (DEMO / "phone-validation.dmn").read_bytes()
    done = client.post(
        "/decisions",
        data={"csrf_token": csrf},
        files={"file": ("phone.dmn", data, "application/xml")},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (
        303,
        "/decisions/phone_validation_model?version=1&deployed=1",
    )
    assert "已部署为第 1 版" in visible_text(client.get(done.headers["location"]).text)

    bad = client.post(
        "/decisions",
        data={"csrf_token": csrf},
        files={"file": ("bad.dmn", b"<definitions>\n<x", "application/xml")},
    )
    assert bad.status_code == 422
    assert "模型未部署" in visible_text(bad.text)
    assert "第 2 行" in visible_text(bad.text)


def test_viewers_cannot_open_decisions(client: TestClient) -> None:
    sign_in(client, "viewer")
    denied = client.get("/decisions")
    assert denied.status_code == 403
    assert "decision:read" in denied.text
    assert client.get("/decisions/nope").status_code == 403
