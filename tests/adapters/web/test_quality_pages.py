"""Connect › Data quality: upload a customer table, review the clusters, download golden records."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import sqlalchemy as sa

from isthmus.bootstrap import Container
from isthmus.security import SYSTEM
from isthmus.services.quality import MigrationAction
from tests.adapters.web.web_client import TestClient, sign_in, visible_text

CSV = (
    "客户名称,手机,城市\n华通科技有限公司,138 0013 8000,上海市\n远大贸易,139-1111-2222,北京\n"
    "华通科技有限责任公司,+86 13800138000,上海\n"
).encode("gb18030")


def test_review_and_download_golden_records(client: TestClient) -> None:
    csrf = sign_in(client, "integrator")
    assert 'href="/data"' in client.get("/").text  # in the menu, under Connect
    page = client.post("/data", data={"csrf_token": csrf}, files={"file": ("c.csv", CSV, "text/csv")})
    assert page.status_code == 200, page.text
    text = visible_text(page.text)
    assert "华通科技有限责任公司" in text
    assert "<script>" not in page.text
    merged = client.post("/data/golden", data={"csrf_token": csrf, "decision-0": "merge",
                                               "golden-0": '{"客户名称": "华通科技有限公司", "手机": "138 0013 8000"}'})  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(merged.text.lstrip("\ufeff"))))
    assert rows == [{"客户名称": "华通科技有限公司", "手机": "138 0013 8000"}]
    apart = client.post("/data/golden", data={"csrf_token": csrf, "decision-0": "apart", "golden-0": "{}"})
    assert apart.text == "\ufeff"


def test_a_bad_file_shows_the_form_again(client: TestClient) -> None:
    csrf = sign_in(client, "integrator")
    page = client.post(
        "/data", data={"csrf_token": csrf}, files={"file": ("c.csv", b"x,y\n1,2\n", "text/csv")}
    )
    assert page.status_code == 422
    assert "columns are x, y" in visible_text(page.text)


def _english(client: TestClient) -> None:
    client.cookies.set("isthmus_lang", "en")  # the assertions below read English texts


def test_profile_charts_and_saved_review_decisions(client: TestClient, container: Container) -> None:
    csrf = sign_in(client, "integrator")
    _english(client)
    files = {"file": ("c.csv", CSV, "text/csv")}
    page = client.post("/data", data={"csrf_token": csrf, "dataset": "crm"}, files=files)
    assert 'src="/static/js/quality-charts.js' in page.text or "quality-charts.js" in page.text
    chart = re.search(
        r'<script type="application/json" id="profile-chart-data">(.*?)</script>', page.text, re.S
    )
    assert chart is not None
    data = json.loads(html.unescape(chart.group(1)))
    assert [c["name"] for c in data["columns"]] == ["客户名称", "手机", "城市"]
    assert data["columns"][1]["patterns"][0] == {"pattern": "999 9999 9999", "count": 1}
    for holder in ("chart-null-rate", "chart-top-values", "chart-patterns"):
        assert f'id="{holder}"' in page.text
    assert 'id="clean-report"' not in page.text  # no rules, nothing to report
    rules = "rules:\n  - {type: company_suffix, columns: [客户名称]}\n"
    with_rules = client.post("/data", data={"csrf_token": csrf, "rules": rules}, files=files)
    report = visible_text(with_rules.text)
    assert "What the rules would change" in report
    assert "华通科技有限责任公司 → 华通科技有限公司" in report
    records = re.search(r'name="records-0" value="([^"]+)"', page.text)
    assert records is not None
    saved = client.post("/data/review", data={"csrf_token": csrf, "dataset": "crm", "decision-0": "apart",
                                              "records-0": records.group(1)})  # fmt: skip
    assert saved.status_code == 200
    assert "1 review decisions saved for crm" in visible_text(saved.text)
    again = client.post("/data", data={"csrf_token": csrf, "dataset": "crm"}, files=files)
    assert again.status_code == 200
    assert 'name="records-0"' not in again.text  # the pair kept apart is no cluster any more
    other = client.post("/data", data={"csrf_token": csrf}, files=files)  # dataset c.csv: not decided
    assert 'name="records-0"' in other.text
    assert container.audit.search(SYSTEM, action="dedupe.review")[1] == 1


def test_saving_decisions_needs_data_clean(client: TestClient) -> None:
    csrf = sign_in(client, "auditor")
    page = client.post("/data", data={"csrf_token": csrf}, files={"file": ("c.csv", CSV, "text/csv")})
    assert page.status_code == 200
    assert 'formaction="/data/review"' not in page.text
    denied = client.post(
        "/data/review", data={"csrf_token": csrf, "dataset": "x", "decision-0": "merge", "records-0": "a,b"}
    )
    assert denied.status_code == 403


def _plan(tmp_path: Path) -> str:
    source = tmp_path / "crm.csv"
    source.write_text("code,name\n" + "".join(f"C{i:04d},客户{i}\n" for i in range(120)), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE kna1 (kunnr TEXT PRIMARY KEY, name1 TEXT)"))
    engine.dispose()
    return f"source: {source}\ntarget: {url}#kna1\nkey: kunnr\nbatch_size: 50\nmapping:\n  kunnr: code\n  name1: name\n"


def test_migration_pages_plan_run_poll_verify_rollback(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    csrf = sign_in(client, "integrator")
    _english(client)
    assert 'href="/data/migrations"' in client.get("/").text
    bad = client.post("/data/migrations", data={"csrf_token": csrf, "name": "crm", "text": "source: ["})
    assert bad.status_code == 422
    assert "The plan was not saved" in visible_text(bad.text)
    saved = client.post(
        "/data/migrations",
        data={"csrf_token": csrf, "name": "crm", "text": _plan(tmp_path)},
        follow_redirects=False,
    )
    assert (saved.status_code, saved.headers["location"]) == (303, "/data/migrations/crm")
    assert "crm.csv" in visible_text(client.get("/data/migrations").text)
    dry = client.post("/data/migrations/crm/plan", data={"csrf_token": csrf})
    dry_job = re.search(r'hx-get="/data/migrations/jobs/([^"]+)"', dry.text)
    assert dry_job is not None
    container.job_runner().run_until_idle()
    dry_done = visible_text(client.get(f"/data/migrations/jobs/{dry_job.group(1)}").text)
    assert "insert 120, update 0, unchanged 0" in dry_done
    assert "kunnr=C0000, name1=客户0" in dry_done  # samples
    started = client.post("/data/migrations/crm/run", data={"csrf_token": csrf})
    assert started.status_code == 202, started.text
    job = re.search(r'hx-get="/data/migrations/jobs/([^"]+)" hx-trigger="every 1s"', started.text)
    assert job is not None  # queued: the fragment polls
    container.job_runner().run_until_idle()
    done = client.get(f"/data/migrations/jobs/{job.group(1)}")
    assert "hx-trigger" not in done.text  # finished: the polling stops
    assert "insert 120, update 0" in visible_text(done.text)
    assert 'data-state="done"' in done.text
    verify = client.post("/data/migrations/crm/verify", data={"csrf_token": csrf})
    verify_job = re.search(r"/data/migrations/jobs/([^\"]+)\"", verify.text)
    assert verify_job is not None
    container.job_runner().run_until_idle()
    assert "Source and target are equal." in visible_text(
        client.get(f"/data/migrations/jobs/{verify_job.group(1)}").text
    )
    page = client.get("/data/migrations/crm")
    run_id = re.search(r'name="run" value="([0-9a-f]+)"', page.text)
    assert run_id is not None  # the rollback button, for who may write
    rolled = client.post("/data/migrations/crm/rollback", data={"csrf_token": csrf, "run": run_id.group(1)})
    assert rolled.status_code == 202
    container.job_runner().run_until_idle()
    assert "rolled_back" in visible_text(client.get("/data/migrations/crm").text)


def test_rollback_is_permission_checked(client: TestClient, container: Container, tmp_path: Path) -> None:
    container.migrations.save_plan(SYSTEM, "crm", _plan(tmp_path))
    container.migrations.start(SYSTEM, "crm", MigrationAction.RUN)
    container.job_runner().run_until_idle()
    csrf = sign_in(client, "auditor")
    page = client.get("/data/migrations/crm")
    assert page.status_code == 200
    assert 'name="run" value=' not in page.text  # no rollback button
    assert "/data/migrations/crm/run" not in page.text
    run_id = container.migrations.runs(SYSTEM, "crm")[0]["run_id"]
    denied = client.post("/data/migrations/crm/rollback", data={"csrf_token": csrf, "run": run_id})
    assert denied.status_code == 403
    assert container.migrations.runs(SYSTEM, "crm")[0]["status"] == "done"


def test_a_plan_that_does_not_fit_is_refused_on_the_page(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    container.migrations.save_plan(SYSTEM, "crm", _plan(tmp_path).replace("name1: name", "name1: nom"))
    csrf = sign_in(client, "integrator")
    _english(client)
    page = client.post("/data/migrations/crm/run", data={"csrf_token": csrf})
    assert page.status_code == 422
    assert "the source has no column 'nom'" in visible_text(page.text)
