"""``isthmus migrate``: a CSV into a SQLite table — plan, run, verify, rollback through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from isthmus.adapters.cli.main import run


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_run_verify_rollback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "crm.csv"
    source.write_bytes("客户编码,客户名称\nC1,华通科技\nC2,远大贸易\n".encode("gb18030"))
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE kna1 (kunnr TEXT PRIMARY KEY, name1 TEXT)"))
    engine.dispose()
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"source: {source}\ntarget: {url}#kna1\nkey: kunnr\nmapping:\n  kunnr: 客户编码\n  name1: 客户名称\n",
                    encoding="utf-8")  # fmt: skip
    code, out, _ = _run(capsys, "migrate", "plan", str(plan), "--json")
    assert (code, json.loads(out)["inserted"]) == (0, 2)
    code, out, _ = _run(capsys, "migrate", "verify", str(plan), "--json")
    assert (code, json.loads(out)["ok"]) == (1, False)
    code, out, _ = _run(capsys, "migrate", "run", str(plan), "--json")
    run_id = json.loads(out)["run_id"]
    assert code == 0
    code, out, _ = _run(capsys, "migrate", "verify", str(plan), "--json")
    assert (code, json.loads(out)["ok"]) == (0, True)
    code, out, _ = _run(capsys, "migrate", "rollback", run_id, "--plan", str(plan), "--json")
    assert (code, json.loads(out)["undone"]) == (0, 2)
    code, _, err = _run(capsys, "migrate", "rollback", run_id, "--plan", str(plan))
    assert code == 2
    assert "already rolled back" in err


def test_a_mapping_to_a_missing_column_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "crm.csv"
    source.write_text("id,name\n1,a\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT)"))
    engine.dispose()
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"source: {source}\ntarget: {url}#t\nkey: id\nmapping:\n  id: id\n  name: nom\n", encoding="utf-8"
    )
    code, _, err = _run(capsys, "migrate", "run", str(plan))
    assert code == 2
    assert "plan.yaml, line 6, field 'mapping.name': the source has no column 'nom'" in err
