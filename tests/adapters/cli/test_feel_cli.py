"""``isthmus feel eval``: the contract of the FEEL command line."""

from __future__ import annotations

import json

import pytest

from isthmus.adapters.cli.main import run


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_gateway_condition_with_a_json_context(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "feel",
        "eval",
        'amount > 50000 and region = "华东"',
        "--context",
        '{"amount": 60000, "region": "华东"}',
        "--json",
    )
    assert (code, json.loads(out)) == (0, True)


def test_dates_come_back_as_iso_strings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "feel", "eval", 'date("2024-01-31") + duration("P1M")', "--json")
    assert (code, json.loads(out)) == (0, "2024-02-29")


def test_runtime_error_is_null_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "feel", "eval", '"a" + 1', "--json")
    assert (code, json.loads(out)) == (0, None)
    assert "warning:" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["1 +"], "line 1, column 4"),
        (["x", "--context", "[1]"], "expected a JSON object"),
        (["x", "--context", "{oops"], "--context: not JSON"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = _run(capsys, "feel", "eval", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
