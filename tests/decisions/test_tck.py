"""The DMN TCK: the shared subset and our own cases in TCK format must all pass."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from isthmus.decisions import run_tck, tck_equal
from isthmus.decisions._tck import read_test_file
from isthmus.errors import SyntaxProblem

SHARED_TCK = Path(__file__).parents[3] / "shared" / "data" / "dmn-tck"
EXTRA = Path(__file__).parent / "tck_extra"


def _failures(directory: Path) -> list[str]:
    report = run_tck(directory)
    assert report.results, f"no TCK cases found under {directory}"
    return [f"{r.folder} {r.case_id} {r.result_node}: {r.reason}" for r in report.results if not r.passed]


@pytest.mark.skipif(not SHARED_TCK.is_dir(), reason="shared TCK subset not present")
def test_shared_tck_subset_passes() -> None:
    assert _failures(SHARED_TCK) == []


def test_our_tck_format_cases_pass() -> None:
    assert _failures(EXTRA) == []


def test_tck_equality_rules() -> None:
    assert tck_equal(Decimal("0.1"), Decimal("0.100000000001"))
    assert not tck_equal(Decimal("0.1"), Decimal("0.11"))
    assert tck_equal([Decimal(1), {"a": "x"}], [Decimal(1), {"a": "x"}])
    assert not tck_equal({"a": None}, {})
    assert not tck_equal(True, Decimal(1))
    assert tck_equal(date(2024, 1, 2), date(2024, 1, 2))
    assert tck_equal(None, None)


def test_a_broken_test_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "x-test-01.xml"
    path.write_text("<testCases>\n<testCase>\n</testCases>")
    with pytest.raises(SyntaxProblem, match="line 3"):
        read_test_file(path)
