"""``isthmus data profile|clean|dedupe``: the command-line contract on real files and databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from isthmus.adapters.cli.main import run
from isthmus.adapters.storage import normalise_url

CUSTOMERS = """客户名称,手机,地址,城市
华通科技有限公司,138 0013 8000,上海市浦东新区张江路88号,上海市
远大贸易股份有限公司,139-1111-2222,北京市朝阳区建国路1号,北京市
华通科技有限责任公司,+86 13800138000,上海浦东新区张江路88号,上海
恒泰电子有限公司,13712345678,广州市天河区体育西路3号,广州市
远大贸易股份公司,,北京市朝阳区建国路1号,北京
"ＡＣＭＥ　Co.,Ltd",+86 21 5555 0000,上海市徐汇区漕溪北路1号,上海市
"""


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def customers_csv(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    path.write_bytes(CUSTOMERS.encode("gb18030"))
    return path


def test_dedupe_json_contract(capsys: pytest.CaptureFixture[str], customers_csv: Path) -> None:
    code, out, _ = _run(capsys, "data", "dedupe", str(customers_csv), "--json")
    assert (code, json.loads(out)) == (0, {"clusters": [[0, 2], [1, 4]]})


def test_dedupe_with_rules_and_golden_records(
    capsys: pytest.CaptureFixture[str], customers_csv: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "dedupe:\n  threshold: 0.99\n  survivorship: {strategy: most_complete}\n", encoding="utf-8"
    )
    golden = tmp_path / "golden.csv"
    code, out, _ = _run(
        capsys, "data", "dedupe", str(customers_csv), "--rules", str(rules), "--json", "--golden", str(golden)
    )
    assert (code, json.loads(out)) == (0, {"clusters": [[1, 4]]})
    assert "远大贸易股份有限公司" in golden.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b\n\xff\xfe\x00\xd8,1\n", "bad.csv: unreadable encoding"),
        (b"x,y\n1,2\n", "bad.csv: missing column: no name or phone column"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    code, out, err = _run(capsys, "data", "dedupe", str(path), "--json")
    assert (code, out) == (2, "")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_clean_writes_and_reports(
    capsys: pytest.CaptureFixture[str], customers_csv: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {type: halfwidth, columns: [客户名称]}\n  - {type: company_suffix, columns: [客户名称]}\n"
        "  - {type: phone, columns: [手机]}\n",
        encoding="utf-8",
    )
    out_path = tmp_path / "clean.parquet"
    code, out, _ = _run(
        capsys, "data", "clean", str(customers_csv), "--rules", str(rules), "-o", str(out_path), "--json"
    )
    body = json.loads(out)
    assert code == 0
    assert body["rows"] == 6
    assert [r["changed"] for r in body["rules"]] == [1, 3, 5]
    code, out, _ = _run(capsys, "data", "profile", str(out_path), "--json")
    phone = next(c for c in json.loads(out)["columns"] if c["name"] == "手机")
    assert phone["patterns"][0] == {"pattern": "+9999999999999", "count": 4}


def test_clean_names_rule_line_of_a_missing_column(
    capsys: pytest.CaptureFixture[str], customers_csv: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - type: trim\n    columns: [email]\n", encoding="utf-8")
    code, _, err = _run(
        capsys, "data", "clean", str(customers_csv), "--rules", str(rules), "-o", str(tmp_path / "o.csv")
    )
    assert code == 2
    assert "rules.yaml, line 3, field 'columns': column 'email' is not in the data" in err
    assert not (tmp_path / "o.csv").exists()


def test_profile_html(capsys: pytest.CaptureFixture[str], customers_csv: Path, tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    code, _, _ = _run(capsys, "data", "profile", str(customers_csv), "--html", str(page))
    assert code == 0
    assert "客户名称" in page.read_text(encoding="utf-8")


def test_database_table_as_source(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    engine = sa.create_engine(normalise_url(db_url))
    meta = sa.MetaData()
    table = sa.Table("crm_customers", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(100)), sa.Column("phone", sa.String(30)))  # fmt: skip
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 1, "name": "华通科技有限公司", "phone": "13800138000"},
                                      {"id": 2, "name": "远大贸易", "phone": "13911112222"},
                                      {"id": 3, "name": "华通科技有限责任公司", "phone": "+86 138 0013 8000"}])  # fmt: skip
    engine.dispose()
    code, out, _ = _run(capsys, "data", "dedupe", f"{db_url}#crm_customers", "--json")
    assert (code, json.loads(out)) == (0, {"clusters": [[0, 2]]})
    code, _, err = _run(capsys, "data", "profile", f"{db_url}#nope", "--json")
    assert code == 2
    assert "table 'nope' not found" in err


def test_review_decisions_apply_to_dedupe_with_a_dataset(
    capsys: pytest.CaptureFixture[str], customers_csv: Path, db_url: str
) -> None:
    assert _run(capsys, "db", "upgrade", "--db", db_url)[0] == 0
    code, out, _ = _run(
        capsys, "data", "dedupe", str(customers_csv), "--json", "--detail", "--dataset", "crm", "--db", db_url
    )
    found = json.loads(out)
    assert (code, found["clusters"]) == (0, [[0, 2], [1, 4]])
    apart = found["record_ids"][1]
    code, out, _ = _run(
        capsys, "data", "review", "crm", *apart, "--decision", "apart", "--json", "--db", db_url
    )
    assert (code, json.loads(out)["pairs"]) == (0, 1)
    code, out, _ = _run(
        capsys, "data", "dedupe", str(customers_csv), "--json", "--dataset", "crm", "--db", db_url
    )
    assert json.loads(out) == {"clusters": [[0, 2]]}
    code, out, _ = _run(capsys, "data", "dedupe", str(customers_csv), "--json")  # no dataset: no decisions
    assert json.loads(out) == {"clusters": [[0, 2], [1, 4]]}
    code, _, err = _run(capsys, "data", "review", "crm", *apart, "--decision", "join", "--db", db_url)
    assert code == 2
    assert "decision: expected merge or apart, got 'join'" in err
