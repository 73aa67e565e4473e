"""``isthmus catalog slas`` and ``isthmus mine sla`` through the real CLI entry point, on both
databases: set, show and clear a process's key-node SLAs; a linked log is checked against them,
a model file and ``--sla`` override them; bad entries exit 2 with one line naming the option."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from isthmus.adapters.cli.main import run

Invoke = Callable[..., tuple[int, str, str]]
CSV = (
    "case,activity,timestamp,start\n"
    "1,Enter order,2024-01-01T08:10:00Z,2024-01-01T08:00:00Z\n"
    "1,Check,2024-01-01T09:40:00Z,2024-01-01T09:10:00Z\n"
    "2,Enter order,2024-01-02T08:10:00Z,2024-01-02T08:00:00Z\n"
    "2,Check,2024-01-02T11:40:00Z,2024-01-02T11:10:00Z\n"
)
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:isthmus="https://isthmus.dev/schema/bpmn" id="d" targetNamespace="urn:t">
  <bpmn:process id="orders" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:userTask id="c" name="Check" isthmus:sla="PT1H"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c"/><bpmn:sequenceFlow id="f2" sourceRef="c" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


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
    assert invoke("catalog", "add", "SAL-ORD-001", "--name", "销售订单处理流程", "--priority", "high")[0] == 0
    return invoke


def test_set_show_and_clear_key_node_slas(cli: Invoke) -> None:
    code, out, err = cli(
        "catalog", "slas", "SAL-ORD-001", "--set", "审核订单=PT4H", "--set", "发货 = p2d", "--json"
    )
    assert code == 0, err
    assert json.loads(out) == {
        "process_id": "SAL-ORD-001",
        "slas": [
            {"node": "审核订单", "duration": "PT4H", "seconds": 14400.0},
            {"node": "发货", "duration": "P2D", "seconds": 172800.0},
        ],
    }
    code, out, _ = cli("catalog", "slas", "SAL-ORD-001")
    assert out.splitlines() == ["审核订单 = PT4H", "发货 = P2D"]
    code, out, err = cli("catalog", "slas", "SAL-ORD-001", "--set", "审核订单=4 hours")
    assert code == 2
    assert err.splitlines()[0].startswith("error: field 'slas[0].duration': expected an ISO 8601 duration")
    code, _, err = cli("catalog", "slas", "SAL-ORD-001", "--set", "审核订单")
    assert (code, "--set" in err) == (2, True)
    assert cli("catalog", "slas", "NOPE-1")[0] == 2
    assert cli("catalog", "slas", "SAL-ORD-001", "--clear")[0] == 0
    assert json.loads(cli("catalog", "slas", "SAL-ORD-001", "--json")[1])["slas"] == []


def test_mine_sla_uses_the_linked_process_then_the_model_then_the_option(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    model = tmp_path / "orders.bpmn"
    model.write_text(MODEL)
    code, out, err = cli("log", "import", str(path), "--case", "case", "--activity", "activity",
                         "--timestamp", "timestamp", "--start", "start")  # fmt: skip
    assert code == 0, err
    log_id = out.strip()
    assert json.loads(cli("mine", "sla", log_id, "--json")[1]) == {"activities": []}
    cli("catalog", "slas", "SAL-ORD-001", "--set", "Check=PT3H")
    assert json.loads(cli("mine", "sla", log_id, "--json")[1]) == {"activities": []}  # not linked yet
    code, out, err = cli("log", "link", log_id, "SAL-ORD-001", "--json")
    assert code == 0, err
    assert json.loads(out)["key_nodes"] == 2
    (row,) = json.loads(cli("mine", "sla", log_id, "--json")[1])["activities"]
    assert (row["activity"], row["source"], row["duration"], row["breaches"]) == (
        "Check",
        "catalog",
        "PT3H",
        1,
    )
    code, out, err = cli("mine", "sla", log_id, "--model", str(model), "--json")
    assert code == 0, err
    (row,) = json.loads(out)["activities"]
    assert (row["activity"], row["source"], row["breaches"]) == ("Check", "model", 2)  # 1.5 h and 3.5 h > 1 h
    code, out, _ = cli("mine", "sla", log_id, "--model", str(model), "--sla", "Check=PT2H", "--json")
    (row,) = json.loads(out)["activities"]
    assert (row["source"], row["breaches"]) == ("given", 1)
    code, _, err = cli("mine", "sla", log_id, "--sla", "Check")
    assert (code, "--sla" in err) == (2, True)


def test_mine_heatmap_prints_the_nodes_with_their_numbers(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    model = tmp_path / "orders.bpmn"
    model.write_text(MODEL)
    log_id = cli("log", "import", str(path), "--case", "case", "--activity", "activity",
                 "--timestamp", "timestamp", "--start", "start")[1].strip()  # fmt: skip
    code, out, err = cli("mine", "heatmap", log_id, "--model", str(model), "--metric", "p90", "--json")
    assert code == 0, err
    found = json.loads(out)
    nodes = {n["id"]: n for n in found["nodes"]}
    assert (nodes["c"]["activity"], nodes["c"]["level"], nodes["c"]["sla"]["source"]) == ("Check", 5, "model")
    assert nodes["s"]["activity"] is None
    assert (found["metric"], found["unmatched_activities"]) == ("p90", ["Enter order"])
    assert cli("mine", "heatmap", log_id, "--model", str(tmp_path / "missing.bpmn"))[0] == 2
