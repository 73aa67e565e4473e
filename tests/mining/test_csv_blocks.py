"""Large CSV files are read block by block (less memory); the result must equal one whole read."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import isthmus.mining as m
from isthmus.errors import InvalidInput
from isthmus.mining import _tabular

TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\n;é中')), min_size=1, max_size=12)


def _write(path: Path, rows: list[list[str]], *, bom: bool = False) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["case:concept:name", "concept:name", "time:timestamp", "note"])
    writer.writerows(rows)
    path.write_bytes(("\ufeff" if bom else "").encode() + out.getvalue().encode())


def _both(path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    whole = m.read_log(path).frame
    monkeypatch.setattr(_tabular, "BLOCK_BYTES", block)
    blocks = m.read_log(path).frame
    monkeypatch.undo()
    return whole, blocks


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.integers(0, 5), TEXT, st.integers(0, 10**6), TEXT), min_size=1, max_size=40),
    st.integers(16, 200),
    st.booleans(),
)
def test_blocks_equal_one_read(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[tuple[int, str, int, str]],
    block: int,
    bom: bool,
) -> None:
    path = tmp_path_factory.mktemp("csv") / "log.csv"
    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    _write(
        path,
        [
            [f"c{c}", activity, (epoch + timedelta(seconds=s)).isoformat(), note]
            for c, activity, s, note in rows
        ],
        bom=bom,
    )
    whole, blocks = _both(path, monkeypatch, block)
    assert blocks.equals(whole)
    assert sorted(blocks[m.INDEX].to_list()) == list(range(len(rows)))


def test_an_error_in_a_later_block_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.csv"
    rows = [[f"c{i}", "a", f"2024-01-01T00:00:{i % 60:02d}+00:00", "x"] for i in range(200)]
    rows[150][2] = "someday"
    _write(path, rows)
    monkeypatch.setattr(_tabular, "BLOCK_BYTES", 256)
    calls: list[Path] = []
    blocks = _tabular._blocks

    def spy(path: Path, separator: str, mapping: m.ColumnMapping) -> pl.DataFrame:
        calls.append(path)
        return blocks(path, separator, mapping)

    monkeypatch.setattr(_tabular, "_blocks", spy)
    with pytest.raises(InvalidInput) as info:
        m.read_log(path)
    assert calls == [path]
    assert "line 152" in info.value.message
    rows[150][2], rows[170][1] = rows[149][2], ""
    _write(path, rows)
    with pytest.raises(InvalidInput) as info:
        m.read_log(path)
    assert "line 172" in info.value.message
