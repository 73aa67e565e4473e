"""``isthmus demo`` deploys the guide's three flows on the sandbox systems; the ERP→finance flow is
scheduled for 22:00 Asia/Shanghai (14:00 UTC) and runs on demand."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from isthmus.adapters.cli.main import run

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

    return invoke


def test_the_demo_schedules_erp_to_finance_at_22(cli: Invoke, tmp_path: Path) -> None:
    code, out, err = cli("demo", "--no-serve")
    assert code == 0, err
    assert "flows: crm-erp-orders v1, erp-fic-daily v1, oa-hr-employees v1" in out
    assert cli("demo", "--no-serve")[0] == 0  # idempotent: the same versions, the same schedule
    _, out, _ = cli("job", "list", "--json")
    scheduled = [j for j in json.loads(out) if j["kind"] == "flow.schedule"]
    by_flow = {j["payload"]["flow"]: j for j in scheduled}
    assert sorted(by_flow) == ["erp-fic-daily", "oa-hr-employees"]
    assert len(scheduled) == 2
    due = datetime.fromisoformat(by_flow["erp-fic-daily"]["run_at"])
    assert (due.hour, due.minute, due.utcoffset()) == (14, 0, timedelta(0))  # 22:00 in Shanghai
    code, out, _ = cli("flow", "schedule", "--json")
    upcoming = {u["flow"]: u for u in json.loads(out)}
    assert sorted(upcoming) == ["erp-fic-daily", "oa-hr-employees"]
    assert upcoming["erp-fic-daily"]["due"] == by_flow["erp-fic-daily"]["run_at"]
    assert "0 22 * * *" in upcoming["erp-fic-daily"]["trigger"]
    with sqlite3.connect(tmp_path / "data" / "demo" / "erp.db") as conn:
        conn.execute("INSERT INTO bseg VALUES ('0000000001', 'SO-1', '12.50', '2024-07-15')")
    code, out, err = cli("flow", "run", "erp-fic-daily", "--json")
    assert code == 0, err
    assert json.loads(out)["accepted"] == 1
    with sqlite3.connect(tmp_path / "data" / "demo" / "fic.db") as conn:
        assert conn.execute("SELECT belnr, amount FROM fic").fetchall() == [("0000000001", "12.50")]
