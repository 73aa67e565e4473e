"""Run › instances and the task inbox in the browser (server-rendered): start the demo order as
the user rep, enter it through the generated form, approve it as the approver."""

from __future__ import annotations

import re

from isthmus.bootstrap import Container
from isthmus.demo import deploy_demo_decisions, deploy_demo_processes
from isthmus.security import SYSTEM
from tests.adapters.web.web_client import TestClient, sign_in, visible_text


def _task_id(html: str) -> int:
    found = re.search(r'href="/tasks/(\d+)"', html)
    assert found, "no task link on the page"
    return int(found.group(1))


def test_the_demo_order_from_start_to_approval(client: TestClient, container: Container) -> None:
    deploy_demo_decisions(SYSTEM, container.decisions)
    deploy_demo_processes(SYSTEM, container.models)
    csrf = sign_in(client, "owner")
    listing = client.get("/instances")
    assert listing.status_code == 200
    assert "SAL-ORD-001" in listing.text
    started = client.post(
        "/instances",
        data={"process_key": "SAL-ORD-001", "business_key": "SO-9", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert started.status_code == 303
    instance_url = started.headers["location"]

    csrf = sign_in(client, "userrep")
    inbox = client.get("/tasks")
    assert "录入订单 Enter order" in visible_text(inbox.text)
    task_id = _task_id(inbox.text)
    assert (
        client.post(f"/tasks/{task_id}/claim", data={"csrf_token": csrf}, follow_redirects=False).status_code
        == 303
    )
    page = client.get(f"/tasks/{task_id}")
    assert 'name="amount" type="number"' in page.text
    refused = client.post(
        f"/tasks/{task_id}/complete",
        data={"csrf_token": csrf, "customer": "ACME", "amount": "x", "quantity": "1"},
    )
    assert refused.status_code == 422
    done = client.post(
        f"/tasks/{task_id}/complete",
        data={"csrf_token": csrf, "customer": "ACME", "amount": "9000", "quantity": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    container.job_runner().run_until_idle()

    csrf = sign_in(client, "approver")
    inbox = client.get("/tasks")
    assert "部门经理审批" in visible_text(inbox.text)
    task_id = _task_id(inbox.text)
    done = client.post(
        f"/tasks/{task_id}/complete", data={"csrf_token": csrf, "approved": "true"}, follow_redirects=False
    )
    assert done.status_code == 303
    container.job_runner().run_until_idle()

    sign_in(client, "owner")
    view = client.get(instance_url)
    assert view.status_code == 200
    text = visible_text(view.text)
    assert "completed" in text
    assert "manager_approval" in text
