"""The engine's CLI contract on the demo process SAL-ORD-001: instance start/show, task list/complete,
worker --until-idle — through the real entry point, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from isthmus.adapters.cli.main import run
from isthmus.bootstrap import build
from isthmus.demo import deploy_demo_decisions
from isthmus.security import SYSTEM, Role
from isthmus.settings import load_settings

Invoke = Callable[..., tuple[int, str, str]]
DEMO = Path(__file__).parents[3] / "src" / "isthmus" / "demo"


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
    container = build(load_settings({"ISTHMUS_DATA_DIR": str(tmp_path / "data"), "ISTHMUS_DB_URL": db_url}))
    try:
        deploy_demo_decisions(SYSTEM, container.decisions)
        container.accounts.ensure_user(SYSTEM, "approver", "approver-demo-2024", {Role.APPROVER}, "Approver")
        container.models.deploy(
            SYSTEM, (DEMO / "processes" / "sal-ord-001.bpmn").read_bytes(), "sal-ord-001.bpmn"
        )
    finally:
        container.close()
    return invoke


def _tasks(cli: Invoke, instance_id: str) -> list[dict[str, object]]:
    code, out, err = cli("task", "list", "--instance", instance_id, "--json")
    assert code == 0, err
    tasks: list[dict[str, object]] = json.loads(out)
    return tasks


def test_big_order_runs_through_finance_pre_review_and_director(cli: Invoke) -> None:
    code, out, err = cli("instance", "start", "SAL-ORD-001", "--vars", '{"order_id": "SO-1"}', "--json")
    assert code == 0, err
    instance_id = json.loads(out)["id"]
    (task,) = _tasks(cli, instance_id)
    assert task["activity_id"] == "enter_order"
    assert set(task) >= {"id", "activity_id", "name", "candidate_groups", "assignee", "due"}
    assert task["candidate_groups"] == ["user_representative", "process_owner"]
    code, _, err = cli(
        "task", "complete", str(task["id"]), "--vars", '{"customer": "ACME", "amount": 120000, "quantity": 3}'
    )
    assert code == 0, err
    assert cli("worker", "--until-idle")[0] == 0
    (task,) = _tasks(cli, instance_id)
    assert task["activity_id"] == "finance_pre_review"
    code, _, err = cli("task", "complete", str(task["id"]), "--vars", '{"pre_review_ok": true}')
    assert code == 2  # four-eyes: the operator started this request
    assert "four-eyes" in err
    assert (
        cli("task", "complete", str(task["id"]), "--vars", '{"pre_review_ok": true}', "--as", "approver")[0]
        == 0
    )
    (task,) = _tasks(cli, instance_id)
    assert task["activity_id"] == "director_approval"
    assert (
        cli("task", "complete", str(task["id"]), "--vars", '{"approved": true}', "--as", "approver")[0] == 0
    )
    assert cli("worker", "--until-idle")[0] == 0
    code, out, _ = cli("instance", "show", instance_id, "--json")
    shown = json.loads(out)
    assert shown["state"] == "completed"
    assert shown["completed_activities"] == [
        "order_received",
        "enter_order",
        "check_stock",
        "tiered_approval",
        "needs_pre_review",
        "finance_pre_review",
        "which_approver",
        "director_approval",
        "approved",
        "fork",
        "notify_finance",
        "reserve_stock",
        "join",
        "order_done",
    ]
    assert shown["variables"]["route"] == {"approver": "director", "finance_pre_review": True}
    assert shown["variables"]["reservation_id"].startswith("RSV-")


def test_small_order_goes_to_the_department_manager(cli: Invoke) -> None:
    instance_id = json.loads(cli("instance", "start", "SAL-ORD-001", "--json")[1])["id"]
    (task,) = _tasks(cli, instance_id)
    cli("task", "complete", str(task["id"]), "--vars", '{"customer": "ACME", "amount": 8000, "quantity": 1}')
    cli("worker", "--until-idle")
    (task,) = _tasks(cli, instance_id)
    assert task["activity_id"] == "manager_approval"
    code, _, err = cli(
        "task", "complete", str(task["id"]), "--vars", '{"approved": "maybe"}', "--as", "approver"
    )
    assert code == 2
    assert "approved" in err
    code, out, _ = cli("instance", "show", instance_id, "--json")
    assert json.loads(out)["state"] == "active"


def test_bad_input(cli: Invoke) -> None:
    assert cli("instance", "start", "SAL-ORD-001", "--vars", "[1]")[0] == 2
    assert cli("instance", "start", "NO-SUCH", "--json")[0] == 2
    assert cli("instance", "show", "nope", "--json")[0] == 2


def test_message_publish_correlates_by_key(cli: Invoke) -> None:
    model = Path(__file__).parents[2] / "engine" / "data" / "correlation.bpmn"
    assert cli("deploy", str(model))[0] == 0
    ids = []
    for order in ("SO-1", "SO-2"):
        code, out, err = cli(
            "instance", "start", "correlation", "--vars", json.dumps({"order_id": order}), "--json"
        )
        assert code == 0, err
        ids.append(json.loads(out)["id"])
    code, out, err = cli("message", "publish", "shipped", "--key", "SO-2", "--vars", '{"n": 1}', "--json")
    assert code == 0, err
    assert json.loads(out) == {"correlated": [ids[1]], "started": [], "duplicate": False}
    code, out, _ = cli("instance", "show", ids[1], "--json")
    assert json.loads(out)["completed_activities"] == ["start", "ship"]
    code, out, _ = cli("instance", "show", ids[0], "--json")
    assert json.loads(out)["completed_activities"] == ["start"]
    code, out, _ = cli("message", "publish", "shipped", "--key", "SO-9")
    assert code == 0
    assert "no instance waits" in out
    code, _, err = cli("message", "publish", "shipped", "--vars", "[1]")
    assert code == 2
    assert "--vars" in err
