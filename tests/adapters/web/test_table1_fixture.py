"""``tests/data/table1.xlsx``: the guide's table 1 as a workbook, written by ``write_xlsx``.

The browser test imports this file. Regenerate it after a change to the demo data or the
workbook layout with ``.venv/bin/python -m tests.adapters.web.test_table1_fixture``.
"""

from __future__ import annotations

from pathlib import Path

from isthmus.catalog import read_processes, write_xlsx
from isthmus.demo import GUIDE_PROCESSES

TABLE1 = Path(__file__).resolve().parents[2] / "data" / "table1.xlsx"


def test_the_committed_workbook_holds_the_guides_three_processes() -> None:
    imported = read_processes(TABLE1.read_bytes(), TABLE1.name)

    assert [p.id for p in imported] == ["SAL-ORD-001", "PUR-REQ-001", "PRO-MFG-001"]
    assert [p.as_record() for p in imported] == [p.as_record() for p in GUIDE_PROCESSES]


if __name__ == "__main__":
    TABLE1.write_bytes(write_xlsx(list(GUIDE_PROCESSES), "zh_CN"))
    print(f"wrote {TABLE1}")
