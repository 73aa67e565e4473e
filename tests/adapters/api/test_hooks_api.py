"""``POST /hooks/{flow}`` through a real client: token and HMAC authentication, 202 only after commit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.adapters.api.routes.hooks import signature
from isthmus.bootstrap import Container
from isthmus.demo.integration import SandboxApi
from isthmus.integration import MessageState
from isthmus.security import SYSTEM, Role

FLOW = """\
flow: crm-orders
source: {{system: CRM, connector: webhook, options: {options}}}
target: {{system: ERP, connector: http, options: {{url: "{url}/api/orders"}}}}
trigger: {{webhook: true}}
mapping: {{vbeln: order_id, kunnr: cust_code}}
idempotency_key: order_id
"""
ORDER = {"order_id": "SO-1", "cust_code": "C1"}


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(container: Container, role: Role) -> dict[str, str]:
    container.accounts.add_user(SYSTEM, f"u-{role.value}", "long enough pw", {role})
    return {"Authorization": f"Bearer {container.accounts.issue_token(SYSTEM, f'u-{role.value}', 'test')}"}


def test_a_token_webhook_answers_202_after_the_message_is_stored(
    container: Container, client: TestClient, api: SandboxApi
) -> None:
    container.flows.deploy(SYSTEM, FLOW.format(options="{}", url=api.url))
    auth = _token(container, Role.IT_INTEGRATOR)
    answer = client.post("/hooks/crm-orders", json=[ORDER, ORDER | {"order_id": "SO-2"}], headers=auth)
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 2
    # Committed before the answer: a fresh unit of work sees both, each with its delivery job.
    stored = container.flows.messages(SYSTEM, flow_id="crm-orders")
    assert [m.state for m in stored] == [MessageState.PENDING] * 2
    container.job_runner().run_until_idle()
    assert sorted(api.records["/api/orders"]) == ["SO-1", "SO-2"]
    again = client.post("/hooks/crm-orders", json=ORDER, headers=auth)
    assert (again.status_code, again.json()["duplicates"]) == (202, 1)


def test_without_the_permission_or_a_token_nothing_is_stored(
    container: Container, client: TestClient
) -> None:
    container.flows.deploy(SYSTEM, FLOW.format(options="{}", url="http://127.0.0.1:9"))
    assert client.post("/hooks/crm-orders", json=ORDER).status_code == 401
    viewer = _token(container, Role.VIEWER)
    assert client.post("/hooks/crm-orders", json=ORDER, headers=viewer).status_code == 403
    assert container.flows.messages(SYSTEM) == []


def test_hmac_signature(container: Container, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_HOOK_SECRET", "a shared secret")
    options = "{auth: hmac, hmac_secret_env: CRM_HOOK_SECRET}"
    container.flows.deploy(SYSTEM, FLOW.format(options=options, url="http://127.0.0.1:9"))
    body = json.dumps(ORDER).encode()
    good = {"X-Isthmus-Signature": signature("a shared secret", body), "content-type": "application/json"}
    bad = {"X-Isthmus-Signature": signature("guess", body), "content-type": "application/json"}
    assert client.post("/hooks/crm-orders", content=body, headers=bad).status_code == 401
    assert client.post("/hooks/crm-orders", content=body, headers=good).status_code == 202
    assert client.post("/hooks/crm-orders", content=b"[1]", headers=good).status_code in (400, 401)
    assert len(container.flows.messages(SYSTEM)) == 1


def test_an_unknown_flow_is_404(client: TestClient, container: Container) -> None:
    assert (
        client.post("/hooks/nope", json=ORDER, headers=_token(container, Role.IT_INTEGRATOR)).status_code
        == 404
    )


def test_the_fast_path_keeps_the_headers_and_problem_answers(
    container: Container, client: TestClient, api: SandboxApi
) -> None:
    container.flows.deploy(SYSTEM, FLOW.format(options="{}", url=api.url))
    auth = _token(container, Role.IT_INTEGRATOR)
    answer = client.post("/hooks/crm-orders", json=ORDER, headers=auth)
    assert answer.status_code == 202
    assert answer.headers["location"] == "/api/v1/flows/crm-orders"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    missing = client.post("/hooks/nope", json=ORDER, headers=auth)
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"
    assert missing.headers["referrer-policy"] == "same-origin"
    too_big = client.post("/hooks/crm-orders", content=b"[]", headers=auth | {"content-length": str(10**12)})
    assert too_big.status_code == 413
    assert client.get("/hooks/crm-orders").status_code == 405  # only POST is served


def test_the_signature_is_rfc_2104_hmac_sha256_in_hex() -> None:
    # the well-known HMAC-SHA256 example: key "key", the quick brown fox
    assert signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_a_body_is_strict_json_and_long_integers_stay_exact(
    container: Container, client: TestClient, api: SandboxApi
) -> None:
    container.flows.deploy(SYSTEM, FLOW.format(options="{}", url=api.url))
    auth = _token(container, Role.IT_INTEGRATOR) | {"content-type": "application/json"}
    long_id = 123456789012345678901234567  # beyond 64 bits
    body = f'{{"order_id": {long_id}, "cust_code": "C1"}}'.encode()
    assert client.post("/hooks/crm-orders", content=body, headers=auth).status_code == 202
    (stored,) = container.flows.messages(SYSTEM, flow_id="crm-orders")
    assert stored.payload["vbeln"] == long_id
    too_deep = b"[" * 100_000 + b"]" * 100_000  # json.loads raised RecursionError: a 500
    for not_json in (b'{"order_id": NaN, "cust_code": "C1"}', b'{"order_id": "SO-\xff"}', b"[1,", too_deep):
        answer = client.post("/hooks/crm-orders", content=not_json, headers=auth)
        assert (answer.status_code, answer.json()["detail"]) == (422, "body: expected JSON")
    assert len(container.flows.messages(SYSTEM, flow_id="crm-orders")) == 1
