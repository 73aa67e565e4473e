"""Govern pages: audit trail (filters, diffs, chain check), users and roles, jobs and incidents."""

from __future__ import annotations

import re

from isthmus.bootstrap import Container
from isthmus.jobs import JobState, NewJob, RetryPolicy
from isthmus.security import SYSTEM, Role
from tests.adapters.web.web_client import TestClient, sign_in, visible_text


def test_the_audit_trail_is_open_to_auditors_and_closed_to_viewers(client: TestClient) -> None:
    sign_in(client, "auditor")
    assert client.get("/audit").status_code == 200

    client.cookies.clear()
    sign_in(client, "viewer")
    denied = client.get("/audit")

    assert denied.status_code == 403
    assert "audit:read" in denied.text


def test_the_audit_trail_shows_who_changed_what(client: TestClient) -> None:
    owner_csrf = sign_in(client, "owner")
    client.post(
        "/catalog/new",
        data={
            "csrf_token": owner_csrf,
            "id": "AUD-001",
            "name": "审计样例",
            "avg_hours": "10",
            "priority": "low",
        },
    )
    client.cookies.clear()
    sign_in(client, "auditor")

    page = client.get("/audit?action=catalog.&object_id=AUD-001")
    text = visible_text(page.text)

    assert "catalog.create" in text
    assert "owner" in text
    assert "审计样例" in text
    assert "共 1 条记录" in text
    assert re.search(
        r"<th scope=\"row\">avg_hours</th><td class=\"before\"></td><td class=\"after\">10</td>", page.text
    )


def test_verifying_the_chain_reports_intact(client: TestClient) -> None:
    sign_in(client, "auditor")

    partial = client.get("/audit/verify", headers={"HX-Request": "true", "HX-Target": "verify-result"})
    full = client.get("/audit/verify")

    assert "<html" not in partial.text
    assert "审计链完整" in partial.text
    assert "<html" in full.text
    assert "审计链完整" in full.text


def test_an_admin_adds_a_user_and_changes_roles(client: TestClient, container: Container) -> None:
    csrf = sign_in(client, "admin")

    added = client.post(
        "/users",
        data={
            "csrf_token": csrf,
            "username": "wang",
            "display_name": "王*",
            "password": "long-enough-1",
            "roles": ["viewer"],
        },
    )
    changed = client.post(
        "/users/wang/roles",
        data={"csrf_token": csrf, "roles": ["auditor", "approver"]},
        follow_redirects=True,
    )

    assert "已添加用户 wang" in added.text
    assert "已保存 wang 的角色" in changed.text
    assert container.accounts.user(SYSTEM, "wang").roles == {Role.AUDITOR, Role.APPROVER}


def test_adding_a_user_with_a_short_password_explains_why(client: TestClient) -> None:
    csrf = sign_in(client, "admin")

    response = client.post(
        "/users", data={"csrf_token": csrf, "username": "li", "password": "short", "roles": ["viewer"]}
    )

    assert response.status_code == 422
    assert "密码：至少" in response.text
    assert 'value="li"' in response.text


def test_only_administrators_manage_users(client: TestClient) -> None:
    csrf = sign_in(client, "owner")

    assert client.get("/users").status_code == 403
    assert (
        client.post("/users/viewer/roles", data={"csrf_token": csrf, "roles": ["admin"]}).status_code == 403
    )


def _incident(container: Container) -> int:
    with container.database.unit_of_work() as uow:
        job_id = uow.jobs.enqueue(
            NewJob(kind="no.such.kind", policy=RetryPolicy(max_attempts=1)), container.clock.now()
        )
        uow.commit()
    container.job_runner("test").run_until_idle()
    assert job_id is not None
    return int(job_id)


def test_jobs_page_counts_states_and_retries_an_incident(client: TestClient, container: Container) -> None:
    job_id = _incident(container)
    csrf = sign_in(client, "admin")

    page = client.get("/jobs")
    retried = client.post(f"/jobs/{job_id}/retry", data={"csrf_token": csrf}, follow_redirects=True)

    assert "no.such.kind" in page.text
    assert "unknown_job_kind" in page.text
    assert re.search(r'stat-incident"><span class="stat-value">1<', page.text)
    assert f"作业 {job_id} 将重新运行" in retried.text
    assert container.jobs.get(SYSTEM, job_id).state is JobState.READY
