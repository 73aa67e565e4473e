"""Run › instances and the task inbox in the browser (server-rendered): start the demo order as
the user rep, enter it through the generated form, approve it as the approver."""

from __future__ import annotations

import html
import json
import re

from isthmus.bootstrap import Container
from isthmus.demo import deploy_demo_decisions, deploy_demo_processes
from isthmus.integration import TargetRejected
from isthmus.security import SYSTEM
from isthmus.services.service_tasks import ServiceRequest
from isthmus.testing import FakeClock
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


def _late_order(container: Container, clock: FakeClock) -> str:
    """A demo order whose stock check fails (an incident) and was late (an escalation notice)."""
    deploy_demo_decisions(SYSTEM, container.decisions)
    deploy_demo_processes(SYSTEM, container.models)

    def erp_down(request: ServiceRequest) -> dict[str, object]:
        if request.variables.get("erp_ok") is not True:
            raise TargetRejected("ERP refused the order")
        return {"in_stock": True}

    container.engine.handlers.register("demo.check-stock", erp_down)
    started = container.engine.start(SYSTEM, "SAL-ORD-001", {"order_id": "SO-5"}, business_key="SO-5")
    (task,) = container.tasks.list(SYSTEM, instance_id=started.id)
    container.tasks.complete(SYSTEM, task.id, {"customer": "ACME", "amount": 100, "quantity": 1})
    clock.advance(minutes=11)
    container.job_runner().run_until_idle()
    return started.id


def test_an_operator_fixes_variables_and_retries_an_incident(
    client: TestClient, container: Container, clock: FakeClock
) -> None:
    instance_id = _late_order(container, clock)
    csrf = sign_in(client, "admin")
    page = client.get(f"/instances/{instance_id}")
    assert page.status_code == 200
    assert "ERP refused the order" in page.text
    assert 'id="instance-diagram"' in page.text
    assert "'unsafe-inline'" in page.headers["content-security-policy"].split("style-src")[1]
    assert "script-src 'self';" in page.headers["content-security-policy"]
    marks = json.loads(html.unescape(re.search(r'data-marks="([^"]*)"', page.text).group(1)))  # type: ignore[union-attr]
    assert marks["incidents"] == ["check_stock"]
    assert 'id="instance-notifications"' in page.text
    assert "f_entered" in marks["flows"]
    assert "check_stock" in marks["active"]
    xml = client.get(f"/instances/{instance_id}/diagram.xml")
    assert xml.headers["content-type"].startswith("application/xml")
    assert b'id="check_stock"' in xml.content

    bad = client.post(f"/instances/{instance_id}/variables", data={"csrf_token": csrf, "variables": "[1]"})
    assert bad.status_code == 422
    assert "JSON object" in visible_text(bad.text)
    fixed = client.post(
        f"/instances/{instance_id}/variables",
        data={"csrf_token": csrf, "variables": '{"erp_ok": true}'},
        follow_redirects=False,
    )
    assert fixed.status_code == 303
    job_id = re.search(r"/jobs/(\d+)/retry", page.text).group(1)  # type: ignore[union-attr]
    retried = client.post(
        f"/instances/{instance_id}/jobs/{job_id}/retry", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert retried.status_code == 303
    container.job_runner().run_until_idle()
    view = container.engine.show(SYSTEM, instance_id)
    assert view.state == "active"
    assert view.variables["in_stock"] is True
    assert "manager_approval" in view.active_activities


def test_a_viewer_sees_the_diagram_but_no_fix_or_retry(
    client: TestClient, container: Container, clock: FakeClock
) -> None:
    instance_id = _late_order(container, clock)
    container.engine.set_variables(SYSTEM, instance_id, {"phone": "13812345678"})
    sign_in(client, "auditor")
    page = client.get(f"/instances/{instance_id}")
    assert page.status_code == 200
    assert 'id="instance-diagram"' in page.text
    assert "/retry" not in page.text
    assert 'name="variables"' not in page.text
    assert "13812345678" not in page.text  # personal data masked without instance:operate
    assert client.get(f"/instances/{instance_id}/diagram.xml").status_code == 200
    sign_in(client, "admin")
    assert "13812345678" in client.get(f"/instances/{instance_id}").text


def test_the_escalation_notice_is_in_the_owners_inbox(
    client: TestClient, container: Container, clock: FakeClock
) -> None:
    instance_id = _late_order(container, clock)
    csrf = sign_in(client, "owner")
    inbox = client.get("/tasks")
    assert 'id="notifications"' in inbox.text
    assert "SO-5" in visible_text(inbox.text)
    assert f'href="/instances/{instance_id}"' in inbox.text
    note_id = re.search(r"/notifications/(\d+)/dismiss", inbox.text).group(1)  # type: ignore[union-attr]
    sign_in(client, "approver")
    assert 'id="notifications"' not in client.get("/tasks").text  # not for the approvers' group
    csrf = sign_in(client, "owner")
    done = client.post(f"/notifications/{note_id}/dismiss", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert 'id="notifications"' not in client.get("/tasks").text
