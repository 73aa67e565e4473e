"""Connect › Data quality: upload a customer table, review the clusters, download golden records."""

from __future__ import annotations

import csv
import io

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
