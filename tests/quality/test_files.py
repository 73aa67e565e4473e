"""Readers: encodings (UTF-8, UTF-8 with BOM, UTF-16, GB18030), Excel and Parquet, bad input named."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from isthmus.errors import InvalidInput
from isthmus.quality import read_table, write_table

TEXT = "客户名称,手机\n华通科技有限公司,13800138000\n远大贸易,\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030", "gbk"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(TEXT.encode(encoding))
    frame = read_table(path)
    assert frame.columns == ["客户名称", "手机"]
    assert frame.get_column("客户名称").to_list() == ["华通科技有限公司", "远大贸易"]
    assert frame.get_column("手机").to_list() == ["13800138000", None]


def test_unreadable_encoding_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n\xff\xfe\x00\xd8,1\n")
    with pytest.raises(InvalidInput, match=r"bad\.csv: unreadable encoding"):
        read_table(path)


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet", ".csv"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    frame = pl.DataFrame({"名称": ["华通", None], "电话": ["138", "139"]})
    path = tmp_path / f"t{suffix}"
    write_table(frame, path)
    assert read_table(path).to_dicts() == frame.to_dicts()
