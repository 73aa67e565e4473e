"""Files: read CSV / JSON lines / Excel in chunks (memory flat as files grow), watch an inbound
folder, and write outbound files atomically.

Inbound: each file matching ``pattern`` is read in chunks; after the caller has stored every chunk
in the outbox it calls :meth:`InboundFolder.done`, which moves the file to ``processed/`` (or to
``failed/`` with :meth:`InboundFolder.failed`) with ``os.replace`` — atomic on one file system, so a
file is never processed twice nor lost. Outbound: each message is written to a temporary file in the
target folder and renamed to ``<idempotency key>.<format>``; a retry overwrites the same name.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from openpyxl import load_workbook

from isthmus.adapters.connectors.files.config import FilesConfig
from isthmus.integration import Outbound, TargetRejected, TargetUnavailable

Chunk = tuple[int, pl.DataFrame]
_SAFE_NAME = re.compile(r"[^\w.-]")


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    # Text columns stay text: the flow's transforms decide types, not a guess from the first rows.
    return pl.DataFrame(rows, infer_schema_length=None)


def read_chunks(path: Path, config: FilesConfig) -> Iterator[Chunk]:
    """(first row number, frame) per ``chunk_rows`` records; row 1 is the first data row.

    Every chunk but the last has exactly ``chunk_rows`` rows, so re-reading a file after a crash
    cuts it the same way and each chunk gets the same content-derived idempotency key."""
    if config.format == "csv" and _polars_can_read(config):
        frames = _csv_frames(path, config)
    else:
        reader = {"csv": _csv_rows, "jsonl": _jsonl_rows, "xlsx": _xlsx_rows}[config.format]
        frames = _row_frames(reader(path, config), config.chunk_rows)
    yield from _exact_chunks(frames, config.chunk_rows)


def _row_frames(rows: Iterator[dict[str, Any]], size: int) -> Iterator[pl.DataFrame]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield _frame(batch)
            batch = []
    if batch:
        yield _frame(batch)


def _exact_chunks(frames: Iterator[pl.DataFrame], size: int) -> Iterator[Chunk]:
    pending: list[pl.DataFrame] = []
    buffered = 0
    first = 1
    for frame in frames:
        pending.append(frame)
        buffered += frame.height
        while buffered >= size:
            joined = pl.concat(pending, how="diagonal_relaxed") if len(pending) > 1 else pending[0]
            yield first, joined.slice(0, size)
            first += size
            rest = joined.slice(size)
            pending, buffered = ([rest] if rest.height else []), rest.height
    if buffered:
        yield first, pl.concat(pending, how="diagonal_relaxed") if len(pending) > 1 else pending[0]


# Encodings in which a b"\n" byte is always a line feed (never inside a multi-byte character), so a
# file can be cut at line ends before decoding.
_LINE_SAFE = frozenset({"utf-8", "utf-8-sig", "gb18030", "gbk", "gb2312", "ascii", "latin-1", "cp1252"})
_BLOCK_BYTES = 4 << 20


def _polars_can_read(config: FilesConfig) -> bool:
    return codecs.lookup(config.encoding).name in _LINE_SAFE and len(config.delimiter.encode()) == 1


def _csv_frames(path: Path, config: FilesConfig) -> Iterator[pl.DataFrame]:
    """The CSV parsed by Polars in blocks of a few MB cut at line ends outside quotes: memory is
    bounded by one block and one chunk whatever the size of the file (Polars' own streaming reader
    reads ahead of a slow consumer). Empty fields are null and every column stays text."""
    encoding = codecs.lookup(config.encoding).name
    with path.open("rb") as handle:
        header_line = handle.readline()
        while header_line.count(b'"') % 2:  # a quoted newline inside the header
            more = handle.readline()
            if not more:
                break
            header_line += more
        header_text = header_line.decode(encoding).lstrip("\ufeff").rstrip("\r\n")
        header = next(csv.reader([header_text], delimiter=config.delimiter), [])
        if not header:
            return
        carry = b""
        while True:
            block = handle.read(_BLOCK_BYTES)
            data = carry + block
            if not block:
                cut = len(data)
            else:
                cut = _cut(data)
                if cut < 0:  # no line end outside quotes yet: read more
                    carry = data
                    continue
            carry = data[cut:]
            body = data[:cut]
            if body.strip():
                text = body.decode(encoding)  # raises UnicodeDecodeError naming the position
                yield pl.read_csv(
                    text.encode() if encoding not in ("utf-8", "ascii") else body,
                    has_header=False,
                    new_columns=header,
                    separator=config.delimiter,
                    infer_schema=False,
                    truncate_ragged_lines=True,
                )
            if not block:
                return


def _cut(data: bytes) -> int:
    """Just past the last line end that is not inside a quoted field, or -1."""
    end = data.rfind(b"\n")
    while end >= 0:
        if data.count(b'"', 0, end) % 2 == 0:
            return end + 1
        end = data.rfind(b"\n", 0, end)
    return -1


def _csv_rows(path: Path, config: FilesConfig) -> Iterator[dict[str, Any]]:
    codecs.lookup(config.encoding)  # an unknown encoding fails before the file is opened
    with path.open(encoding=config.encoding, newline="") as handle:
        for row in csv.DictReader(handle, delimiter=config.delimiter):
            yield {k: (v if v != "" else None) for k, v in row.items() if k is not None}


def _jsonl_rows(path: Path, config: FilesConfig) -> Iterator[dict[str, Any]]:
    with path.open(encoding=config.encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield {str(k): v for k, v in json.loads(line).items()}
                except (json.JSONDecodeError, AttributeError):
                    yield {"__malformed__": f"line {number}: not a JSON object"}


def _xlsx_rows(path: Path, config: FilesConfig) -> Iterator[dict[str, Any]]:
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h) for h in next(rows, ())]
        for values in rows:
            yield {h: (str(v) if v is not None else None) for h, v in zip(header, values, strict=False)}
    finally:
        book.close()


class InboundFolder:
    """A watched folder: :meth:`pending` lists files to read, oldest first."""

    def __init__(self, config: FilesConfig) -> None:
        self.config = config
        self.folder = Path(config.folder)
        for sub in ("processed", "failed"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def pending(self) -> list[Path]:
        found = [
            p for p in self.folder.glob(self.config.pattern) if p.is_file() and not p.name.startswith(".")
        ]
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def done(self, path: Path) -> Path:
        return self._move(path, "processed")

    def failed(self, path: Path, reason: str) -> Path:
        moved = self._move(path, "failed")
        moved.with_name(moved.name + ".error.txt").write_text(reason, encoding="utf-8")
        return moved

    def _move(self, path: Path, sub: str) -> Path:
        destination = self.folder / sub / path.name
        path.replace(destination)
        return destination


class FilesTarget:
    """Satisfies ``isthmus.integration.Target``: one file per message, written atomically."""

    def __init__(self, config: FilesConfig, timeout_s: float) -> None:
        self.config = config
        self.folder = Path(config.folder)

    def _content(self, payload: dict[str, Any]) -> bytes:
        if self.config.format == "jsonl":
            return (json.dumps(payload, ensure_ascii=False) + "\n").encode(self.config.encoding)
        if self.config.format != "csv":
            raise TargetRejected("files target: format {format} is read-only", format=self.config.format)
        lines = [
            self.config.delimiter.join(payload),
            self.config.delimiter.join("" if v is None else str(v) for v in payload.values()),
        ]
        return ("\r\n".join(lines) + "\r\n").encode(self.config.encoding)

    def send(self, message: Outbound) -> None:
        name = _SAFE_NAME.sub("_", message.idempotency_key) + "." + self.config.format
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".part-")
            with os.fdopen(handle, "wb") as out:
                out.write(self._content(dict(message.payload)))
                out.flush()
                os.fsync(out.fileno())
            Path(temporary).replace(self.folder / name)
        except UnicodeEncodeError as exc:
            raise TargetRejected(
                "{name}: cannot encode as {enc}", name=name, enc=self.config.encoding
            ) from exc
        except OSError as exc:
            raise TargetUnavailable("{folder}: {error}", folder=str(self.folder), error=exc.strerror) from exc

    def close(self) -> None:
        return None
