"""Migration plans read through the Connect connectors: ``files:`` (the files connector's reader, with
its options) and ``system:NAME#table`` (the systems registry), mapped with FEEL into a real SQLite
target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from isthmus.adapters.tabular import read_source, resolve_system
from isthmus.adapters.tabular.migrate import SqlMigrations
from isthmus.errors import InvalidInput
from isthmus.quality import parse_plan

MAPPING = """\
mapping:
  kunnr: cust_code
  name1: upper case(name)
  telf1: '"+86" + phone'
"""


@pytest.fixture
def erp(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE kna1 (kunnr VARCHAR(20) PRIMARY KEY, name1 TEXT, telf1 TEXT)"))
    engine.dispose()
    return url


def rows(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM kna1 ORDER BY kunnr"))]
    engine.dispose()
    return found


def test_a_gb18030_csv_read_by_the_files_connector_is_migrated_with_feel(tmp_path: Path, erp: str) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_bytes("cust_code;name;phone\nC2;华通 ltd;13800000002\nC1;acme;13800000001\n".encode("gb18030"))
    plan = parse_plan(
        f"source: files:{csv}?encoding=gb18030&delimiter=;\ntarget: {erp}#kna1\nkey: kunnr\n{MAPPING}"
    )
    migrations = SqlMigrations()
    assert migrations.dry_run(plan)["inserted"] == 2
    migrations.run(plan, incremental=False, progress=lambda done, total: None)
    assert rows(erp) == [("C1", "ACME", "+8613800000001"), ("C2", "华通 LTD", "+8613800000002")]


def test_the_files_spec_names_what_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes("name\n华通\n".encode("gb18030"))
    with pytest.raises(InvalidInput, match=r"a\.csv: cannot read the file as csv \(utf-8\)"):
        read_source(f"files:{tmp_path / 'a.csv'}")
    with pytest.raises(InvalidInput, match="format=csv, jsonl or xlsx"):
        read_source(f"files:{tmp_path / 'a.dat'}")
    with pytest.raises(InvalidInput, match="files option encodng"):
        read_source(f"files:{tmp_path / 'a.csv'}?encodng=gb18030")
    with pytest.raises(InvalidInput, match="files option delimiter: String should have at most 1 character"):
        read_source(f"files:{tmp_path / 'a.csv'}?delimiter=;;&encoding=gb18030")
    with pytest.raises(InvalidInput, match="files option encoding: Value error, unknown encoding 'klingon'"):
        read_source(f"files:{tmp_path / 'a.csv'}?encoding=klingon")


def test_systems_of_the_registry_are_sources_and_targets(tmp_path: Path, erp: str) -> None:
    crm = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sa.create_engine(crm)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (cust_code TEXT, name TEXT, phone TEXT)"))
        conn.execute(sa.text("INSERT INTO customers VALUES ('C7', 'xinghe', '13900000007')"))
    engine.dispose()
    systems = {"CRM": {"url": crm, "connector": "sql"}, "ERP": {"url": erp}}
    plan = parse_plan(f"source: system:CRM#customers\ntarget: system:ERP#kna1\nkey: kunnr\n{MAPPING}")
    migrations = SqlMigrations(lambda name: systems.get(name, {}))
    migrations.run(plan, incremental=False, progress=lambda done, total: None)
    assert rows(erp) == [("C7", "XINGHE", "+8613900000007")]
    assert migrations.verify(plan)["ok"] is True


def test_a_system_spec_needs_a_registered_database() -> None:
    with pytest.raises(InvalidInput, match=r"system:OA: system 'OA' is not registered with a database url"):
        resolve_system("system:OA#t", lambda name: {})
    with pytest.raises(InvalidInput, match="needs '#table'"):
        resolve_system("system:OA", lambda name: {"url": "sqlite://"})
    secret = resolve_system("system:DB#t", lambda name: {"url": "postgresql://u@h/db", "password": "s3cret"})
    assert secret == "postgresql://u:s3cret@h/db#t"
    with pytest.raises(InvalidInput) as raised:
        SqlMigrations(lambda name: {}).check(
            parse_plan(f"source: system:X#t\ntarget: a.csv\nkey: kunnr\n{MAPPING}")
        )
    assert "system 'X'" in str(raised.value)


def test_migrate_plan_on_the_command_line_reads_a_registered_system(
    tmp_path: Path, erp: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from isthmus.adapters.cli.main import run

    monkeypatch.setenv("ISTHMUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ISTHMUS_DB_URL", raising=False)
    crm = tmp_path / "crm.db"
    engine = sa.create_engine(f"sqlite:///{crm}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (cust_code TEXT, name TEXT, phone TEXT)"))
        conn.execute(sa.text("INSERT INTO customers VALUES ('C1', 'acme', '13800000001')"))
    engine.dispose()
    assert run(["db", "upgrade"]) == 0
    add = [
        "system",
        "add",
        "CRM",
        "--kind",
        "CRM",
        "--setting",
        "connector=sql",
        "--setting",
        f"url=sqlite:///{crm}",
    ]
    assert run(add) == 0
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"source: system:CRM#customers\ntarget: {erp}#kna1\nkey: kunnr\n{MAPPING}", encoding="utf-8"
    )
    capsys.readouterr()
    assert run(["migrate", "run", str(plan), "--json"]) == 0
    assert rows(erp) == [("C1", "ACME", "+8613800000001")]
    assert str(crm) not in capsys.readouterr().out  # the plan names the system, not its address
