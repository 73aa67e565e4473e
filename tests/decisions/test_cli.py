"""``isthmus dmn`` through Typer's runner (the CLI owner registers the sub-app)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from isthmus.adapters.cli.dmn import app

DEMO = Path(__file__).parents[2] / "src" / "isthmus" / "demo" / "decisions"
EXTRA = Path(__file__).parent / "tck_extra"
runner = CliRunner()


def test_eval_prints_json() -> None:
    result = runner.invoke(
        app,
        [
            "eval",
            str(DEMO / "tiered-approval.dmn"),
            "--decision",
            "approval_route",
            "--input",
            '{"amount": 100000}',
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"approver": "director", "finance_pre_review": True}


def test_eval_bad_json_is_exit_2_with_one_line() -> None:
    result = runner.invoke(
        app, ["eval", str(DEMO / "tiered-approval.dmn"), "--decision", "x", "--input", "{", "--json"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --input is not JSON")
    assert result.stderr.count("\n") == 1


def test_eval_malformed_model_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dmn"
    bad.write_text("<definitions>\n<oops>\n</definitions>\n")
    result = runner.invoke(app, ["eval", str(bad), "--decision", "d", "--json"])
    assert result.exit_code == 2
    assert "bad.dmn, line 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_tck_json_and_summary_line(tmp_path: Path) -> None:
    case = tmp_path / "suite" / "0001-literal-arithmetic"
    shutil.copytree(EXTRA / "0001-literal-arithmetic", case)
    result = runner.invoke(app, ["tck", str(tmp_path / "suite"), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip("\n").split("\n")
    assert lines[-1].endswith(" passed, 0 failed")
    rows = json.loads("\n".join(lines[:-1]))
    assert rows
    assert all(r["passed"] for r in rows)


def test_tck_failure_exits_1_and_table_mode_still_summarises(tmp_path: Path) -> None:
    case = tmp_path / "0001-literal-arithmetic"
    shutil.copytree(EXTRA / "0001-literal-arithmetic", case)
    test_file = next(case.glob("*-test-*.xml"))
    test_file.write_text(test_file.read_text().replace(">3<", ">4<", 1))
    result = runner.invoke(app, ["tck", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.rstrip("\n").split("\n")[-1].endswith(" failed")
    assert " 0 failed" not in result.stdout.split("\n")[-2]


def test_tck_missing_directory_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tck", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
