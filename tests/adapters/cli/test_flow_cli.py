"""``isthmus flow`` and ``isthmus dlq`` through the real entry point, on the guide's sandbox systems."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from isthmus.adapters.cli.main import run
from isthmus.demo.integration import create_erp_tables, flow_text
from isthmus.integration import GUIDE_HEADERS

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Invoke:
    monkeypatch.setenv("ISTHMUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ISTHMUS_DB_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert invoke("db", "upgrade")[0] == 0
    return invoke


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    create_erp_tables(folder)
    for name in ("crm-erp-orders", "erp-fic-daily", "oa-hr-employees"):
        (tmp_path / f"{name}.yaml").write_text(flow_text(name, folder), encoding="utf-8")
    return folder


def test_validate_names_line_and_field(cli: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "flow: x\nsource: {system: A, connector: webhook}\ntarget: {system: B, connector: http}\n"
        "mapping:\n  a: b +\nidempotency_key: b\n",
        encoding="utf-8",
    )
    code, _, err = cli("flow", "validate", str(bad))
    assert code == 1
    assert "bad.yaml, line 5, field 'mapping.a'" in err


def test_oa_to_hr_files_with_gb18030_a_malformed_row_and_masking(
    cli: Invoke, demo: Path, tmp_path: Path
) -> None:
    assert cli("flow", "deploy", str(tmp_path / "oa-hr-employees.yaml"))[0] == 0
    rows = [
        "emp_id,name,dept_name,phone",
        "E0001,王小明,销售部,13812345678",
        "bad-id,李四,财务部,13912345678",
        "E0003,赵六,生产部,13712345678",
    ]
    (demo / "oa/outbox/employees.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("gb18030"))
    code, out, _ = cli("flow", "run", "oa-hr-employees", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["accepted"], result["rejected"], result["files"]) == (2, 1, {"employees.csv": "processed"})
    assert (demo / "oa/outbox/processed/employees.csv").exists()
    written = (demo / "hr/inbox/E0001.csv").read_bytes().decode("gb18030").splitlines()
    assert written == ["emp_id,name,dept_code,phone", "E0001,王*明,SAL,138****5678"]
    code, out, _ = cli("dlq", "list", "--json")
    (dead,) = json.loads(out)
    assert (dead["row"], dead["payload"]["phone"]) == (2, "139****5678")
    assert cli("dlq", "discard", str(dead["id"]), "--reason", "not an employee")[0] == 0
    assert json.loads(cli("dlq", "list", "--json")[1]) == []


def test_erp_to_finance_reads_only_what_is_new(cli: Invoke, demo: Path, tmp_path: Path) -> None:
    with sqlite3.connect(demo / "erp.db") as erp:
        erp.executemany(
            "INSERT INTO bseg VALUES (?, ?, ?, ?)",
            [("B001", "SO-1", "1200.50", "2024-07-15"), ("B002", "SO-2", "99", "2024-07-15")],
        )
    cli("flow", "deploy", str(tmp_path / "erp-fic-daily.yaml"))
    first = json.loads(cli("flow", "run", "erp-fic-daily", "--json")[1])
    assert (first["accepted"], first["watermark"], first["metrics"]["delivered"]) == (2, "B002", 2)
    with sqlite3.connect(demo / "erp.db") as erp:
        erp.execute("INSERT INTO bseg VALUES ('B003', 'SO-3', '5', '2024-07-16')")
    second = json.loads(cli("flow", "run", "erp-fic-daily", "--json")[1])
    assert (second["accepted"], second["duplicates"]) == (1, 0)
    with sqlite3.connect(demo / "fic.db") as fic:
        assert fic.execute("SELECT belnr, amount, date FROM fic ORDER BY belnr").fetchall() == [
            ("B001", "1200.50", "2024-07-15"),
            ("B002", "99", "2024-07-15"),
            ("B003", "5", "2024-07-16"),
        ]


def test_crm_orders_from_input_then_table2_in_excel(cli: Invoke, demo: Path, tmp_path: Path) -> None:
    cli("flow", "deploy", str(tmp_path / "crm-erp-orders.yaml"))
    orders = tmp_path / "orders.jsonl"
    orders.write_text(
        '{"order_id": "SO-1", "cust_code": "C1", "order_date": "2024-06-30", "amount": 10, "phone": "13812345678"}\n'
        '{"order_id": "SO-1", "cust_code": "C1", "order_date": "2024-06-30", "amount": 10, "phone": "13812345678"}\n',
        encoding="utf-8",
    )
    result = json.loads(cli("flow", "run", "crm-erp-orders", "--input", str(orders), "--json")[1])
    assert (result["accepted"], result["duplicates"]) == (1, 1)
    with sqlite3.connect(demo / "erp.db") as erp:
        assert erp.execute("SELECT vbeln, kunnr, netwr, telf1 FROM vbak").fetchall() == [
            ("SO-1", "C1", "10", "138****5678")
        ]
    sheet = tmp_path / "table2.xlsx"
    assert cli("flow", "list", "--xlsx", str(sheet))[0] == 0
    book = load_workbook(sheet)
    values = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert values[0] == GUIDE_HEADERS
    assert values[1][:4] == (
        "CRM",
        "ERP",
        "CRM→ERP",
        "CRM.order_id→ERP.vbeln, CRM.cust_code→ERP.kunnr, "
        "CRM.order_date→ERP.erdat, CRM.amount→ERP.netwr, CRM.phone→ERP.telf1",
    )


def test_flow_test_injects_the_guides_faults_and_sets_the_test_status(cli: Invoke, tmp_path: Path) -> None:
    from isthmus.demo.integration import SandboxApi

    with SandboxApi() as api:
        flow = tmp_path / "crm.yaml"
        flow.write_text(
            "flow: crm-orders\nsource: {system: CRM, connector: webhook}\n"
            "target: {system: ERP, connector: http, options: {url: 'http://erp.invalid/api/orders'},"
            f" test: {{url: '{api.url}/api/orders'}}}}\n"
            "mapping: {vbeln: order_id, kunnr: cust_code}\nidempotency_key: order_id\n",
            encoding="utf-8",
        )
        sample = tmp_path / "sample.json"
        sample.write_text('{"order_id": "SO-T1", "cust_code": "C1"}', encoding="utf-8")
        cli("flow", "deploy", str(flow))
        code, out, _ = cli("flow", "test", "crm-orders", "--sample", str(sample), "--json")
    result = json.loads(out)
    assert code == 0, result
    assert [s["scenario"] for s in result["scenarios"]] == [
        "normal",
        "target down (network interruption)",
        "timeout",
        "HTTP 500",
        "malformed record",
        "duplicate message",
    ]
    assert list(api.records["/api/orders"]) == ["SO-T1"]  # every scenario, one effect
    (row,) = json.loads(cli("flow", "list", "--json")[1])
    assert row["测试状态"] == "已完成"
