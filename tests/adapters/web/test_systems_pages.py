"""Connect › Systems through the real app: list, add, edit, test connection (a real JSON-RPC server on
loopback), delete; credentials typed in are never shown back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from isthmus.bootstrap import Container
from isthmus.integration import SystemKind
from isthmus.security import SYSTEM
from tests.adapters.connectors.odoo_servers import FakeOdoo, JsonRpcServer
from tests.adapters.web.web_client import TestClient, sign_in, visible_text

SECRET = "pw-7Q2x-odoo"


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.cookies.set("isthmus_lang", "en")


@pytest.fixture
def odoo() -> Iterator[JsonRpcServer]:
    with JsonRpcServer() as server:
        server.odoo.PASSWORD = SECRET
        yield server


def settings(odoo: JsonRpcServer) -> str:
    return f"url={odoo.url}/jsonrpc\nauth=odoo\ndatabase={FakeOdoo.DB}\nusername={FakeOdoo.USER}\n"


def test_add_test_edit_delete(client: TestClient, container: Container, odoo: JsonRpcServer) -> None:
    csrf = sign_in(client, "integrator")
    assert 'href="/systems"' in client.get("/").text  # in the menu, under Connect
    assert "No system is registered yet." in visible_text(client.get("/systems").text)
    form = {
        "csrf_token": csrf,
        "name": "ERP",
        "kind": "ERP",
        "owner": "王*",
        "connector": "jsonrpc",
        "settings": settings(odoo),
        "credentials": f"password={SECRET}",
    }
    saved = client.post("/systems/new", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    listing = client.get("/systems").text
    assert "王*" in visible_text(listing)
    assert SECRET not in listing
    checked = client.post("/systems/ERP/test", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert "connection works" in visible_text(checked.text)
    assert "<html" not in checked.text  # a fragment for htmx
    assert odoo.odoo.logins == 1
    edit = client.get("/systems/ERP/edit").text
    assert SECRET not in edit
    assert "Credentials are set" in visible_text(edit)
    assert f"url={odoo.url}/jsonrpc" in edit
    changed = client.post(
        "/systems/ERP/edit", data=form | {"owner": "李*", "credentials": ""}, follow_redirects=False
    )
    assert changed.status_code == 303
    stored = container.systems.get(SYSTEM, "ERP")
    assert stored.owner == "李*"
    assert stored.envelope is not None  # kept: the field was left empty
    page = client.post("/systems/ERP/test", data={"csrf_token": csrf})  # without JavaScript: the list
    assert "connection works" in visible_text(page.text)
    assert "ERP" in visible_text(page.text)
    gone = client.post("/systems/ERP/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303
    assert container.systems.list(SYSTEM) == []


def test_a_failing_connection_is_shown_without_the_secret(client: TestClient, odoo: JsonRpcServer) -> None:
    csrf = sign_in(client, "integrator")
    form = {
        "csrf_token": csrf,
        "name": "ERP",
        "kind": "ERP",
        "connector": "jsonrpc",
        "settings": settings(odoo),
    }
    client.post("/systems/new", data=form | {"credentials": f"password=wrong-{SECRET}"})
    page = client.post("/systems/ERP/test", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    text = visible_text(page.text)
    assert "connection failed" in text
    assert "refused" in text
    assert SECRET not in page.text


def test_form_errors_name_the_field(client: TestClient) -> None:
    csrf = sign_in(client, "integrator")
    base = {"csrf_token": csrf, "name": "FIC", "kind": "finance", "connector": "sql", "credentials": ""}
    secret = client.post("/systems/new", data=base | {"settings": "url=sqlite:///fic.db\npassword=x"})
    assert secret.status_code == 422
    assert "a secret belongs in the credentials" in visible_text(secret.text)
    assert 'aria-invalid="true"' in secret.text
    broken = client.post("/systems/new", data=base | {"settings": "just text"})
    assert broken.status_code == 422
    assert "line 1: expected KEY=VALUE" in visible_text(broken.text)
    assert client.post("/systems/new", data=base | {"settings": "url=sqlite:///x.db"}).status_code == 200
    taken = client.post("/systems/new", data=base | {"settings": "url=sqlite:///x.db"})
    assert taken.status_code == 422
    assert "exists" in visible_text(taken.text)


def test_test_connection_without_a_connector(client: TestClient) -> None:
    csrf = sign_in(client, "integrator")
    client.post("/systems/new", data={"csrf_token": csrf, "name": "OA", "kind": "OA", "settings": ""})
    page = client.post("/systems/OA/test", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert "set the connector kind" in visible_text(page.text)


def test_permissions(client: TestClient, container: Container) -> None:
    container.systems.register(SYSTEM, "CRM", SystemKind.CRM)
    sign_in(client, "auditor")
    listing = client.get("/systems")
    assert listing.status_code == 200
    assert "Test connection" not in listing.text
    assert "Add a system" not in listing.text
    assert client.get("/systems/new").status_code == 403
    sign_in(client, "viewer")
    assert client.get("/systems").status_code == 403
    assert 'href="/systems"' not in client.get("/").text
