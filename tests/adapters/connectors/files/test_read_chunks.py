"""CSV chunks read by Polars in blocks cut at line ends outside quotes give what the csv module gives."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isthmus.adapters.connectors.files import FilesConfig, read_chunks
from isthmus.adapters.connectors.files import client as files_client

cell = st.one_of(
    st.just(""),
    st.text(alphabet='ab,"\n 中\r', max_size=6),
    st.from_regex(r"[A-Z]{1,3}-\d{1,4}", fullmatch=True),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(cell, cell, cell), min_size=0, max_size=30),
    block=st.integers(min_value=1, max_value=64),
    chunk=st.integers(min_value=1, max_value=7),
    encoding=st.sampled_from(["utf-8", "gb18030"]),
)
def test_chunks_match_the_csv_module_whatever_the_block_size(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[tuple[str, str, str]],
    block: int,
    chunk: int,
    encoding: str,
) -> None:
    monkeypatch.setattr(files_client, "_BLOCK_BYTES", block)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(["id", "name", "note"])
    writer.writerows(rows)
    path = tmp_path / "in.csv"
    path.write_bytes(text.getvalue().encode(encoding))
    expected = [
        tuple(v if v != "" else None for v in r.values())
        for r in csv.DictReader(io.StringIO(text.getvalue(), newline=""))
    ]
    chunks = list(read_chunks(path, FilesConfig(folder=str(tmp_path), encoding=encoding, chunk_rows=chunk)))
    got = [row for _, frame in chunks for row in frame.rows()]
    assert got == expected
    assert [first for first, _ in chunks] == list(range(1, len(expected) + 1, chunk))
    assert all(frame.height == chunk for _, frame in chunks[:-1])


def test_memory_is_bounded_by_a_block_not_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each frame Polars parses holds at most one block's rows, however long the file."""
    monkeypatch.setattr(files_client, "_BLOCK_BYTES", 1000)
    path = tmp_path / "big.csv"
    path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(20_000)), encoding="utf-8")
    parsed: list[int] = []
    real = pl.read_csv

    def spy(*args: object, **kwargs: object) -> object:
        frame = real(*args, **kwargs)  # type: ignore[arg-type]
        parsed.append(frame.height)
        return frame

    monkeypatch.setattr(pl, "read_csv", spy)
    total = sum(f.height for _, f in read_chunks(path, FilesConfig(folder=str(tmp_path), chunk_rows=5000)))
    assert total == 20_000
    assert max(parsed) < 200
