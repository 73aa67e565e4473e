"""XES (IEEE 1849) and XES.gz, streamed with ``iterparse``: events become columns as they are read
and every parsed element is cleared, so a million-event file never becomes a DOM.

Trace attributes become ``case:<key>`` columns and ``concept:name`` of the trace the case id, as
pm4py's importer does; ``concept:name``, ``time:timestamp``, ``lifecycle:transition`` and
``org:resource`` of an event become the core columns.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import polars as pl
from lxml import etree

from isthmus.errors import InvalidInput, Location, SyntaxProblem
from isthmus.mining._schema import (
    ACTIVITY,
    CASE,
    INDEX,
    INDEX_TYPE,
    LIFECYCLE,
    RESOURCE,
    TIMESTAMP,
    normalise,
)
from isthmus.mining._timestamps import parse_timestamps

_CORE = {
    "concept:name": ACTIVITY,
    "time:timestamp": TIMESTAMP,
    "lifecycle:transition": LIFECYCLE,
    "org:resource": RESOURCE,
}
_VALUE_TAGS = {"string", "date", "int", "float", "boolean", "id"}
Progress = Callable[[int], None]


def _local(tag: Any) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


class _Columns:
    """Column lists grown event by event; a new attribute key back-fills None."""

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {CASE: [], ACTIVITY: [], TIMESTAMP: []}
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        rows = self.rows
        for key, value in row.items():
            column = self.data.get(key)
            if column is None:
                column = self.data[key] = [None] * rows
            column.append(value)
        self.rows = rows + 1
        if len(row) < len(self.data):  # pad the columns this event does not have
            for column in self.data.values():
                if len(column) == rows:
                    column.append(None)


def read_xes(path: Path, *, progress: Progress | None = None) -> pl.DataFrame:
    """Read an XES or XES.gz file into the Isthmus schema (timestamps in UTC)."""
    columns = _Columns()
    lines: list[int] = []
    name = path.name
    try:
        with _open(path) as stream:
            _stream(stream, columns, lines, progress)
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (None, None)
        raise SyntaxProblem(
            "not well-formed XES: {reason}",
            location=Location(file=name, line=line, column=col),
            reason=exc.msg,
        ) from None
    except (OSError, EOFError) as exc:
        raise InvalidInput(
            "cannot read the file: {reason}", location=Location(file=name), reason=str(exc)
        ) from None
    if columns.rows == 0:
        raise InvalidInput("the XES file has no events", location=Location(file=name))
    return _frame(columns, lines, name)


def _values(element: Any) -> dict[str, Any]:
    """The top-level ``<string key=… value=…/>`` (date, int …) children of an event or a trace;
    nested attributes (lists, containers) are not columns."""
    values: dict[str, Any] = {}
    for child in element:
        key = child.get("key")
        if key is not None and child.tag.rpartition("}")[2] in _VALUE_TAGS:
            values[key] = child.get("value")
    return values


def _stream(stream: IO[bytes], columns: _Columns, lines: list[int], progress: Progress | None) -> None:
    # Only the ends of events and traces reach Python; every other element is handled in C.
    parser = etree.iterparse(
        stream,
        events=("end",),
        tag=("{*}event", "{*}trace"),
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
        load_dtd=False,
    )
    trace_element: Any = None
    trace: dict[str, Any] = {}
    for _action, element in parser:
        parent = element.getparent()
        if _local(element.tag) == "trace":
            element.clear()
            while element.getprevious() is not None:  # drop finished traces from the root
                del parent[0]
            trace_element = None
            continue
        if parent is None or _local(parent.tag) != "trace":
            continue  # an event outside a trace carries no case
        if parent is not trace_element:  # first event of a trace: its attributes come before it
            trace_element = parent
            attrs = _values(parent)
            trace = {CASE: attrs.pop("concept:name", None)} | {f"case:{k}": v for k, v in attrs.items()}
        event = {_CORE.get(k, k): v for k, v in _values(element).items()}
        columns.add(trace | event)
        lines.append(element.sourceline or 0)
        element.clear()
        parent.remove(element)
        if progress is not None and columns.rows % 50_000 == 0:
            progress(columns.rows)


def _frame(columns: _Columns, lines: list[int], name: str) -> pl.DataFrame:
    data = columns.data
    for key in (CASE, ACTIVITY, TIMESTAMP):
        values = data[key]
        missing = next((i for i, v in enumerate(values) if v is None), None)
        if missing is not None:
            what = {
                CASE: "trace concept:name",
                ACTIVITY: "event concept:name",
                TIMESTAMP: "event time:timestamp",
            }[key]
            raise InvalidInput(
                "an event without {what}", location=Location(file=name, line=lines[missing]), what=what
            )
    frame = pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in data.items()})
    stamps = parse_timestamps(frame[TIMESTAMP], file=name, column="time:timestamp", lines=lines)
    frame = frame.with_columns(stamps.alias(TIMESTAMP), pl.int_range(pl.len(), dtype=INDEX_TYPE).alias(INDEX))
    return normalise(frame)
