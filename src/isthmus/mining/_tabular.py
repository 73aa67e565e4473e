"""CSV and Parquet event logs: encodings, delimiters and the column mapping.

Chinese ERP exports are often GB18030/GBK, Excel writes UTF-8 with a BOM: the encoding is taken
from ``ColumnMapping.encoding`` or detected (UTF-8-BOM, UTF-8, then GB18030, a superset of GBK).
The delimiter is sniffed from the header line. Every column is read as text first, so a bad value
is reported with its line and column instead of failing a whole-column type guess.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from isthmus.errors import InvalidInput, Location
from isthmus.mining._schema import (
    ACTIVITY,
    CASE,
    CATEGORICAL_COLUMNS,
    CORE_COLUMNS,
    INDEX,
    INDEX_TYPE,
    LIFECYCLE,
    RESOURCE,
    START,
    SYSTEM,
    TEXT_TYPE,
    TIME_TYPE,
    TIMESTAMP,
    categorise,
    normalise,
)
from isthmus.mining._timestamps import parse_timestamps

# Column names tried, in order, when the mapping names none (XES-style names first, as pm4py writes).
DEFAULT_NAMES: dict[str, tuple[str, ...]] = {
    CASE: ("case:concept:name", "case_id", "case", "caseid", "case id", "案例", "案例编号"),
    ACTIVITY: ("concept:name", "activity", "activity name", "event", "活动", "活动名称"),
    TIMESTAMP: ("time:timestamp", "timestamp", "complete_timestamp", "end_timestamp", "time", "时间"),
    START: ("start_timestamp", "time:start", "start", "开始时间"),
    LIFECYCLE: ("lifecycle:transition", "lifecycle"),
    RESOURCE: ("org:resource", "resource", "user", "资源"),
    SYSTEM: ("system", "source_system", "系统"),
}


SNIFF_BYTES = 64 * 1024
# Large UTF-8 files are parsed in blocks of about this size: Polars' reader holds the whole file's
# text columns plus its parse buffers at once, while a block is converted (timestamps parsed, the
# text dropped) before the next is read, so peak memory stays near the size of the finished log.
BLOCK_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnMapping:
    """Which source column holds each core field; None means "look for a usual name".

    ``timestamp_format`` is a strftime pattern (None: ISO 8601 and common forms);
    ``timezone`` is the zone of timestamps written without an offset.
    """

    case: str | None = None
    activity: str | None = None
    timestamp: str | None = None
    start: str | None = None
    lifecycle: str | None = None
    resource: str | None = None
    system: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    timestamp_format: str | None = None
    timezone: str = "UTC"
    object_type: str | None = None  # OCEL: the object type whose objects become cases

    def given(self) -> dict[str, str | None]:
        return {
            CASE: self.case,
            ACTIVITY: self.activity,
            TIMESTAMP: self.timestamp,
            START: self.start,
            LIFECYCLE: self.lifecycle,
            RESOURCE: self.resource,
            SYSTEM: self.system,
        }


def decode(data: bytes, encoding: str | None, name: str) -> str:
    """The file's text: the named encoding, else UTF-8 (with or without BOM), else GB18030."""
    candidates = (encoding,) if encoding else ("utf-8-sig", "gb18030")
    for candidate in candidates:
        try:
            codecs.lookup(candidate)
        except LookupError:
            raise InvalidInput("unknown encoding {encoding!r}", encoding=candidate) from None
        try:
            return data.decode(candidate)
        except UnicodeDecodeError as exc:
            last = exc
    line = data[: last.start].count(b"\n") + 1
    raise InvalidInput(
        "the file is not {encodings} text (byte {byte} on line {line}); pass --encoding",
        location=Location(file=name, line=line),
        encodings=" or ".join(c for c in candidates if c),
        byte=last.start,
        line=line,
    )


def _sniff(header: str, delimiter: str | None) -> str:
    if delimiter:
        return delimiter
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_csv(path: Path, mapping: ColumnMapping) -> pl.DataFrame:
    """Read a delimited text file into the Isthmus schema.

    UTF-8 files (with or without BOM) go to Polars' reader as bytes — no Python string of the whole
    file, which would triple the memory — large ones block by block (``_blocks``); anything else is
    decoded first.
    """
    name = path.name
    with path.open("rb") as probe:
        head = probe.read(SNIFF_BYTES)
    encoding = (mapping.encoding or "").lower().replace("_", "-")
    if encoding in ("", "utf-8", "utf8", "utf-8-sig") and _utf8_prefix(head):
        header = head.decode("utf-8", errors="ignore").lstrip("\ufeff").split("\n", 1)[0]
        separator = _sniff(header, mapping.delimiter)
        try:
            if path.stat().st_size > 2 * BLOCK_BYTES:
                return _blocks(path, separator, mapping)
            return _frame(path, separator, mapping, name)
        except _NotUtf8:
            if encoding:
                raise InvalidInput(
                    "the file is not UTF-8 text; pass the right --encoding", location=Location(file=name)
                ) from None
    text = decode(path.read_bytes(), mapping.encoding, name)
    separator = _sniff(text.split("\n", 1)[0], mapping.delimiter)
    return _frame(io.StringIO(text), separator, mapping, name)


class _NotUtf8(Exception):
    pass


def _utf8_prefix(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut at the end of the probe
    return True


def _blocks(path: Path, separator: str, mapping: ColumnMapping) -> pl.DataFrame:
    """A large UTF-8 file read block by block (see ``BLOCK_BYTES``), each block cut at a line end
    outside quotes (an even number of ``"`` before it), each mapped and its timestamps parsed with
    the line numbers it has in the file. The result equals reading the file at once."""
    parts: list[pl.DataFrame] = []
    line = 2
    with path.open("rb") as source:
        header = source.readline()
        carry = b""
        while True:
            # at most two block-sized byte strings at once: the block and the text given to Polars
            block = source.read(BLOCK_BYTES)
            more = bool(block)
            data = carry + block if carry else block
            del block
            cut = _line_end(data) if more else len(data)
            text = b"".join((header, memoryview(data)[:cut])) if _VISIBLE.search(data, 0, cut) else b""
            carry = data[cut:]
            del data
            if text:
                frame = _read(io.BytesIO(text), separator, path.name)
                del text
                if frame.columns and frame.columns[0].startswith("\ufeff"):
                    frame = frame.rename({frame.columns[0]: frame.columns[0].lstrip("\ufeff")})
                # rechunked: Polars' strings may point into the whole block's text; a copy keeps
                # only their own bytes (and the timestamps' text is gone by now)
                part = categorise(from_columns(frame, mapping, path.name, first_line=line, numbered=False))
                part = part.rechunk()
                parts.append(part.with_columns(positions(part, line - 2)))
                line += frame.height
                del frame
            if not more:
                break
    if not parts:
        return _frame(path, separator, mapping, path.name)
    return normalise(pl.concat(parts, how="vertical", rechunk=False))


_VISIBLE = re.compile(rb"\S")


def _line_end(data: bytes) -> int:
    """The end of the last complete line of ``data`` that is not inside a quoted field."""
    cut = data.rfind(b"\n") + 1
    while cut and data.count(b'"', 0, cut) % 2:
        cut = data.rfind(b"\n", 0, cut - 1) + 1
    return cut


def positions(frame: pl.DataFrame, start: int = 0) -> pl.Series:
    """Source positions ``start, start + 1, …`` for the rows of ``frame``, in the same chunks as its
    columns: a column chunked differently makes the next ``with_columns`` rechunk the whole frame,
    a second copy of every column that the allocator cannot hand back."""
    if not frame.width:
        return pl.Series(INDEX, [], dtype=INDEX_TYPE)
    pieces: list[pl.Series] = []
    for chunk in frame.get_columns()[0].get_chunks():
        pieces.append(pl.int_range(start, start + chunk.len(), dtype=INDEX_TYPE, eager=True))
        start += chunk.len()
    if not pieces:
        return pl.Series(INDEX, [], dtype=INDEX_TYPE)
    return pl.concat(pieces, rechunk=False).alias(INDEX)


def _read(source: Path | io.StringIO | io.BytesIO, separator: str, name: str) -> pl.DataFrame:
    try:
        return pl.read_csv(source, separator=separator, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        reason = str(exc).split("\n")[0]
        if "utf-8" in reason.lower() or "utf8" in reason.lower():
            raise _NotUtf8 from None
        raise InvalidInput(
            "cannot read as CSV: {reason}", location=Location(file=name), reason=reason
        ) from None


def _frame(source: Path | io.StringIO, separator: str, mapping: ColumnMapping, name: str) -> pl.DataFrame:
    frame = _read(source, separator, name)
    if frame.columns and frame.columns[0].startswith("\ufeff"):
        frame = frame.rename({frame.columns[0]: frame.columns[0].lstrip("\ufeff")})
    return from_columns(frame, mapping, name, first_line=2)


def read_parquet(path: Path, mapping: ColumnMapping) -> pl.DataFrame:
    """The file is read a slice of rows at a time with the conversions done per slice — text
    columns that become Categorical cast, zoned timestamps to µs UTC, source positions numbered —
    so neither the log as text (~16 bytes per value and column, against 4) nor a second copy of a
    column exists at once."""
    try:
        schema = pl.read_parquet_schema(path)
        found = _resolve(pl.DataFrame(schema=schema), mapping, path.name)
        text = {found[f] for f in CATEGORICAL_COLUMNS if f in found and schema[found[f]] == pl.String}
        zoned = {found[f] for f in (TIMESTAMP, START) if f in found and _zoned(schema[found[f]])}
        scan = (
            pl.scan_parquet(path)
            .with_row_index(_POSITION)
            .with_columns(
                *(pl.col(c).cast(TEXT_TYPE) for c in sorted(text)),
                # the instants as they are (see ``utc_instants``): no time-zone database
                *(pl.col(c).dt.cast_time_unit("us").to_physical().cast(TIME_TYPE) for c in sorted(zoned)),
                pl.col(_POSITION).cast(INDEX_TYPE),
            )
        )
        rows = int(pl.scan_parquet(path).select(pl.len()).collect().item())
        # One slice after another: Polars' own streaming reader decodes several row groups at once
        # on several threads (~20 MiB more at the peak for a million events).
        parts = [
            scan.slice(start, PARQUET_SLICE_ROWS).collect() for start in range(0, rows, PARQUET_SLICE_ROWS)
        ]
        frame = pl.concat(parts, how="vertical", rechunk=False) if parts else scan.collect()
        del parts
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise InvalidInput(
            "cannot read as Parquet: {reason}",
            location=Location(file=path.name),
            reason=str(exc).split("\n")[0],
        ) from None
    numbered = from_columns(frame, mapping, path.name, first_line=1, numbered=False)
    return normalise(numbered.rename({_POSITION: INDEX}))


def _zoned(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Datetime) and dtype.time_zone is not None


# Rows of a Parquet file converted at a time.
PARQUET_SLICE_ROWS = 1 << 17
# The streamed Parquet reader's name for source positions until the file's own columns are mapped.
_POSITION = "__isthmus_position__"


def _resolve(frame: pl.DataFrame, mapping: ColumnMapping, name: str) -> dict[str, str]:
    lower = {c.strip().lower(): c for c in frame.columns}
    found: dict[str, str] = {}
    for field, given in mapping.given().items():
        if given is not None:
            if given not in frame.columns:
                raise InvalidInput(
                    "no column {column!r}; the file has {known}",
                    location=Location(file=name, field=field),
                    column=given,
                    known=", ".join(frame.columns),
                )
            found[field] = given
            continue
        match = next((lower[n] for n in DEFAULT_NAMES[field] if n in lower), None)
        if match is not None:
            found[field] = match
    for field in (CASE, ACTIVITY, TIMESTAMP):
        if field not in found:
            raise InvalidInput(
                "which column is the {field}? none of {tried} exists; name it (e.g. --{option} COL)",
                location=Location(file=name),
                field=field,
                tried=", ".join(DEFAULT_NAMES[field][:3]),
                option={CASE: "case", ACTIVITY: "activity", TIMESTAMP: "timestamp"}[field],
            )
    return found


def from_columns(
    frame: pl.DataFrame, mapping: ColumnMapping, name: str, *, first_line: int, numbered: bool = True
) -> pl.DataFrame:
    """Rename mapped columns to the schema, check required values, parse times to UTC; with
    ``numbered`` also give each event its source position and normalise (a block of a larger file
    gets both once all blocks are joined)."""
    found = _resolve(frame, mapping, name)
    for field in (CASE, ACTIVITY):
        column = frame[found[field]]
        if column.dtype == pl.String or isinstance(column.dtype, pl.Categorical | pl.Enum):
            empty = column.is_null() | (column == "")  # no text copy of a Categorical column
        else:
            empty = column.is_null() | (column.cast(pl.String).str.len_bytes() == 0)
        if empty.any():
            raise InvalidInput(
                "empty {field}",
                location=Location(file=name, line=first_line + int(empty.arg_true()[0]), column=found[field]),
                field=field,
            )
    times = {}
    for field in (TIMESTAMP, START):
        if field in found:
            values = frame[found[field]]
            if field == TIMESTAMP and values.is_null().any():
                raise InvalidInput(
                    "empty timestamp",
                    location=Location(
                        file=name, line=first_line + int(values.is_null().arg_true()[0]), column=found[field]
                    ),
                )
            times[field] = parse_timestamps(
                values,
                fmt=mapping.timestamp_format,
                zone=mapping.timezone,
                file=name,
                column=found[field],
                first_line=first_line,
            )
    # A column already named like a core field but not mapped to it would collide with the rename.
    sources = set(found.values())
    clashes = [c for c in frame.columns if c in (*CORE_COLUMNS, INDEX) and c not in sources]
    renamed = frame.drop(clashes).rename(
        {source: field for field, source in found.items() if source != field}
    )
    renamed = renamed.with_columns(*(s.alias(f) for f, s in times.items()))
    if not numbered:
        return renamed
    return normalise(renamed.with_columns(positions(renamed)))
