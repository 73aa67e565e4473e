"""The ``isthmus`` command line, run in-process and (for exit codes) as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from isthmus.adapters.cli.main import run, split_global_options
from isthmus.catalog import write_xlsx
from isthmus.demo import GUIDE_PROCESSES

Invoke = Callable[..., tuple[int, str, str]]

KEYS = [
    "id",
    "name",
    "department",
    "system_support",
    "owner",
    "roles",
    "key_nodes",
    "avg_hours",
    "pain_points",
    "priority",
]


@pytest.fixture
def cli(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Invoke:
    monkeypatch.setenv("ISTHMUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ISTHMUS_DB_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run([*args, "--db", db_url])
        out, err = capsys.readouterr()
        return code, out, err

    assert invoke("db", "upgrade")[0] == 0
    return invoke


def test_demo_loads_the_guides_table_and_list_json_keeps_the_contract(cli: Invoke) -> None:
    code, out, _ = cli("demo", "--no-serve")
    assert code == 0
    assert "admin-demo-2024" in out
    assert cli("demo", "--no-serve")[0] == 0  # idempotent
    code, out, _ = cli("catalog", "list", "--json")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["PRO-MFG-001", "PUR-REQ-001", "SAL-ORD-001"]
    sal = rows[2]
    assert list(sal)[:10] == KEYS
    assert sal["priority"] == "high"
    assert sal["roles"] == ["销售专员", "仓库主管", "财务专员"]
    assert sal["pain_points"][1] == "审批节点冗余(销售经理→财务→总监)"
    assert (sal["key_nodes"], sal["avg_hours"]) == (5, 48)


def test_add_edit_delete_and_the_audit_trail_names_the_cli_operator(cli: Invoke) -> None:
    assert (
        cli(
            "catalog",
            "add",
            "HR-LEAVE-001",
            "--name",
            "请假流程",
            "--role",
            "员工",
            "--role",
            "主管",
            "--value-score",
            "2",
            "--pain-score",
            "3",
            "--ease-score",
            "5",
        )[0]
        == 0
    )
    _, out, _ = cli("catalog", "edit", "HR-LEAVE-001", "--avg-hours", "12.5", "--json")
    assert json.loads(out)["avg_hours"] == 12.5
    assert cli("catalog", "delete", "HR-LEAVE-001")[0] == 0
    _code, out, _ = cli("audit", "list", "--action", "catalog.", "--json")
    items = json.loads(out)["items"]
    assert [i["action"] for i in items] == ["catalog.delete", "catalog.update", "catalog.create"]
    assert all(i["actor"].startswith("cli:") for i in items)


def test_as_user_acts_as_that_user_with_its_permissions(cli: Invoke) -> None:
    assert cli("user", "add", "wang", "--role", "viewer", "--password", "long enough pw")[0] == 0
    code, _, err = cli("catalog", "add", "X-1", "--name", "x", "--priority", "low", "--as", "wang")
    assert code == 2
    assert "wang lacks the permission catalog:write" in err
    assert cli("catalog", "list", "--as", "wang")[0] == 0


def test_import_export_round_trip_and_bad_file_exit_2(cli: Invoke, tmp_path: Path) -> None:
    good = tmp_path / "table1.xlsx"
    good.write_bytes(write_xlsx(list(GUIDE_PROCESSES)))
    code, out, _ = cli("catalog", "import", str(good), "--json")
    assert (code, json.loads(out)["created"]) == (0, ["SAL-ORD-001", "PUR-REQ-001", "PRO-MFG-001"])
    exported = tmp_path / "out.csv"
    assert cli("catalog", "export", "-o", str(exported))[0] == 0
    assert exported.read_bytes().startswith("\ufeff流程编号".encode())
    code, out, _ = cli("catalog", "import", str(exported), "--json")
    assert sorted(json.loads(out)["unchanged"]) == ["PRO-MFG-001", "PUR-REQ-001", "SAL-ORD-001"]
    bad = tmp_path / "bad.csv"
    bad.write_text("流程编号,流程名称,关键节点数量\nA-1,x,many\n", encoding="utf-8")
    code, _, err = cli("catalog", "import", str(bad))
    assert code == 2
    assert "bad.csv, row 2, column 关键节点数量" in err
    assert "Traceback" not in err
    assert cli("catalog", "import", str(tmp_path / "missing.xlsx"))[0] == 2


def test_audit_verify_catches_a_row_edited_in_the_database(cli: Invoke, db_url: str) -> None:
    cli("demo", "--no-serve")
    code, out, _ = cli("audit", "verify", "--json")
    assert (code, json.loads(out)["intact"]) == (0, True)
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"))
    engine.dispose()
    code, out, err = cli("audit", "verify")
    assert code == 1
    assert "BROKEN at record 2" in err


def test_users_tokens_and_roles(cli: Invoke) -> None:
    assert cli("user", "add", "li", "--role", "approver,auditor", "--password", "long enough pw")[0] == 0
    code, out, _ = cli("user", "token", "li", "--name", "ci")
    assert out.strip().startswith("ist_")
    code, out, _ = cli("user", "roles", "li", "--remove", "auditor", "--add", "viewer", "--json")
    assert json.loads(out)["roles"] == ["approver", "viewer"]
    code, _, err = cli("user", "roles", "li", "--add", "king")
    assert code == 2
    assert "unknown role 'king'" in err


def test_jobs_and_worker_until_idle(cli: Invoke) -> None:
    code, out, _ = cli("worker", "--until-idle")
    assert (code, "ran 0 job(s)" in out) == (0, True)
    code, out, _ = cli("job", "list", "--json")
    assert json.loads(out) == []


def test_global_options_are_taken_from_anywhere() -> None:
    rest, found = split_global_options(["catalog", "--db=sqlite:///x.db", "list", "--as", "li", "--", "--db"])
    assert rest == ["catalog", "list", "--", "--db"]
    assert found == {"--db": "sqlite:///x.db", "--as": "li"}


def test_real_process_bad_usage_and_unmigrated_database_exit_2_without_traceback(tmp_path: Path) -> None:
    exe = [sys.executable, "-c", "from isthmus.adapters.cli.main import main; main()"]
    env = {"ISTHMUS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    usage = subprocess.run(
        [*exe, "catalog", "list", "--bogus"], capture_output=True, text=True, env=env, check=False
    )
    assert usage.returncode == 2
    fresh = subprocess.run(
        [*exe, "catalog", "list", "--db", f"sqlite:///{tmp_path}/new.db"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert fresh.returncode == 2
    assert "run `isthmus db upgrade`" in fresh.stderr
    assert "Traceback" not in fresh.stderr + usage.stderr
    bad_db = subprocess.run(
        [*exe, "catalog", "list", "--db", "mysql://x"], capture_output=True, text=True, env=env, check=False
    )
    assert bad_db.returncode == 2
    assert "expected a sqlite:/// or postgresql:// URL" in bad_db.stderr


def test_schema_upgrade_is_audited_once(cli: Invoke) -> None:
    code, out, _ = cli("audit", "list", "--action", "db.", "--json")
    items = json.loads(out)["items"]
    assert (code, [i["action"] for i in items]) == (0, ["db.upgrade"])
    assert items[0]["before"] == {"revision": None}
    assert cli("db", "upgrade")[0] == 0  # nothing to do: no second record
    assert json.loads(cli("audit", "list", "--action", "db.", "--json")[1])["total"] == 1
