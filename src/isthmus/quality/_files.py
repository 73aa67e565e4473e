"""Read and write tabular files as Polars frames of text: CSV (encoding detected), Excel, Parquet.

These small readers stand in for the connectors of ``isthmus.integration`` until those land; they
share one signature (a path in, a frame of strings out) so swapping them is a one-line change.
Everything is read as text: profiling and cleansing decide what a value means, not the reader.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import polars as pl

from isthmus.errors import InvalidInput, Location

#: Tried in order after the byte-order marks. GB18030 is a superset of GBK and GB2312, so it also
#: reads files that Excel on a Chinese Windows saved as "CSV".
_ENCODINGS = ("utf-8", "gb18030")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def detect_encoding(data: bytes, *, name: str = "") -> str:
    """The encoding that decodes ``data``: a BOM if present, else UTF-8, else GB18030.

    Raises:
        InvalidInput: when none decodes it (the message names the file and the byte offset).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    first_error: UnicodeDecodeError | None = None
    for encoding in _ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError as error:
            first_error = first_error or error
            continue
        return encoding
    offset = first_error.start if first_error else 0
    raise InvalidInput(
        "unreadable encoding: not UTF-8, UTF-16 or GB18030 (first bad byte at offset {offset})",
        location=Location(file=name or None),
        offset=offset,
    )


def read_csv_text(data: bytes, *, name: str = "") -> pl.DataFrame:
    """A CSV (any of the detected encodings) as a frame of strings; empty cells are null."""
    encoding = detect_encoding(data, name=name)
    text = data.decode(encoding).removeprefix("\ufeff")
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    except (pl.exceptions.PolarsError, ValueError) as error:
        raise InvalidInput(
            "not a readable CSV: {reason}", location=Location(file=name or None), reason=str(error)[:200]
        ) from error
    # Values stay as written (leading spaces are a finding of the profile, removed by a trim rule).
    return frame.rename({c: c.strip() for c in frame.columns})


def _read_excel(path: Path) -> pl.DataFrame:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError, ValueError … for bad files
        raise InvalidInput("not a readable Excel file", location=Location(file=str(path))) from error
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    if not rows:
        return pl.DataFrame()
    header = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(rows[0])]
    columns = {
        h: [None if r[i] is None else str(r[i]) for r in rows[1:] if i < len(r)] for i, h in enumerate(header)
    }
    return pl.DataFrame(columns, schema=dict.fromkeys(header, pl.String))


def read_table(path: str | Path) -> pl.DataFrame:
    """Read ``path`` by its suffix: ``.csv``/``.txt``, ``.xlsx``/``.xlsm``, ``.parquet``.

    >>> read_table("missing.csv")
    Traceback (most recent call last):
    ...
    isthmus.errors.InvalidInput: missing.csv: file not found
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput("file not found", location=Location(file=str(path)))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(path)
    if suffix == ".parquet":
        try:
            frame = pl.read_parquet(path)
        except pl.exceptions.PolarsError as error:
            raise InvalidInput("not a readable Parquet file", location=Location(file=str(path))) from error
        return frame.with_columns(pl.all().cast(pl.String))
    return read_csv_text(path.read_bytes(), name=str(path))


def write_table(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` by the suffix of ``path`` (CSV in UTF-8, Parquet, or Excel)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.write_parquet(path)
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(frame.columns)
        for row in frame.iter_rows():
            sheet.append(list(row))
        book.save(path)
    else:
        # CSV has no nested values: lists (a golden record's member rows) become "0;2".
        lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
        frame.with_columns(pl.col(c).cast(pl.List(pl.String)).list.join(";") for c in lists).write_csv(path)
