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
from isthmus.mining._schema import ACTIVITY, CASE, INDEX, LIFECYCLE, RESOURCE, TIMESTAMP, normalise
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
        for key, value in row.items():
            column = self.data.get(key)
            if column is None:
                column = self.data[key] = [None] * self.rows
            column.append(value)
        self.rows += 1
        for column in self.data.values():
            if len(column) < self.rows:
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


def _attribute(element: Any, event: dict[str, Any] | None, trace: dict[str, Any] | None) -> None:
    """A top-level ``<string key=… value=…/>`` (or date, int …) of an event or a trace."""
    parent = element.getparent()
    key = element.get("key")
    if parent is None or key is None:
        return
    where = _local(parent.tag)
    if where == "event" and event is not None:
        event[_CORE.get(key, key)] = element.get("value")
    elif where == "trace" and trace is not None and event is None:
        trace["case:" + key] = element.get("value")


def _stream(stream: IO[bytes], columns: _Columns, lines: list[int], progress: Progress | None) -> None:
    parser = etree.iterparse(
        stream,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
        load_dtd=False,
    )
    depth = 0
    trace: dict[str, Any] = {}
    in_trace = False
    event: dict[str, Any] | None = None
    event_line = 0
    for action, element in parser:
        tag = _local(element.tag)
        if action == "start":
            depth += 1
            if tag == "trace":
                in_trace, trace = True, {}
            elif tag == "event" and in_trace:
                event, event_line = {}, element.sourceline or 0
            continue
        depth -= 1
        if tag in _VALUE_TAGS:
            _attribute(element, event, trace if in_trace else None)
            continue
        if tag == "event" and event is not None:
            row = {CASE: trace.get("case:concept:name")} | {
                k: v for k, v in trace.items() if k != "case:concept:name"
            }
            columns.add(row | event)
            lines.append(event_line)
            event = None
            element.clear()
            if progress is not None and columns.rows % 50_000 == 0:
                progress(columns.rows)
        elif tag == "trace":
            in_trace = False
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]


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
    frame = frame.with_columns(stamps.alias(TIMESTAMP), pl.int_range(pl.len(), dtype=pl.UInt64).alias(INDEX))
    return normalise(frame)
