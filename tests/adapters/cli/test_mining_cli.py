"""``isthmus log import`` and ``isthmus mine …`` through the real CLI entry point, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from isthmus.adapters.cli.main import run
from isthmus.mining import dfg, discovered_bpmn, read_log

Invoke = Callable[..., tuple[int, str, str]]
ROAD = Path("/work/shared/data/eventlogs/roadtraffic100traces.xes")
CSV = "单号;动作;完成时间;开始时间;经办人;系统\nSO-1;创建订单;2024-06-30 08:30;2024-06-30 08:00;张三;CRM\nSO-1;录入订单;2024-06-30 10:00;2024-06-30 09:30;李四;ERP\n"


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


def test_import_a_gbk_csv_with_a_column_mapping_and_mine_it(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(CSV.encode("gbk"))
    code, out, err = cli(
        "log", "import", str(path), "--case", "单号", "--activity", "动作", "--timestamp", "完成时间",
        "--start", "开始时间", "--resource", "经办人", "--system", "系统", "--encoding", "gbk",
    )  # fmt: skip
    assert code == 0, err
    log_id = out.strip()
    code, out, _ = cli("mine", "dfg", log_id, "--json")
    assert json.loads(out) == {
        "edges": [{"source": "创建订单", "target": "录入订单", "count": 1}],
        "start": {"创建订单": 1},
        "end": {"录入订单": 1},
    }
    code, out, _ = cli("mine", "waiting", log_id, "--json")
    activities = {a["activity"]: a for a in json.loads(out)["activities"]}
    assert activities["录入订单"]["waiting_total_s"] == 3600.0
    assert activities["创建订单"]["service_total_s"] == 1800.0
    code, out, _ = cli("mine", "bottlenecks", log_id, "--json")
    assert json.loads(out)["by_total"][0]["activity"] == "录入订单"


@pytest.mark.skipif(not ROAD.exists(), reason="shared event logs missing")
def test_mine_a_file_on_the_fly_and_check_conformance(cli: Invoke, tmp_path: Path) -> None:
    code, out, _ = cli("mine", "variants", str(ROAD), "--json")
    variants = json.loads(out)["variants"]
    counts = [v["count"] for v in variants]
    assert code == 0
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == 100
    code, out, _ = cli("mine", "performance", str(ROAD), "--json")
    edge = json.loads(out)["edges"][0]
    assert set(edge) == {
        "source",
        "target",
        "count",
        "mean_s",
        "median_s",
        "min_s",
        "max_s",
        "sum_s",
        "stdev_s",
    }
    model = tmp_path / "asis.bpmn"
    model.write_text(discovered_bpmn(dfg(read_log(ROAD)), coverage=1.0))
    code, out, _ = cli("mine", "conformance", str(ROAD), "--model", str(model), "--json")
    body = json.loads(out)
    assert code == 0
    assert 0 < body["log_fitness"] <= 1
    assert len(body["cases"]) == 100


def test_bad_input_exits_2_with_one_line(cli: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("case,activity,timestamp\n1,a,2024-01-01\n1,b,someday\n")
    code, out, err = cli("log", "import", str(bad))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "line 3" in err
    assert "timestamp" in err
    assert cli("mine", "dfg", "no-such-log", "--json")[0] == 2
    assert cli("log", "import", str(tmp_path / "missing.xes"))[0] == 2
