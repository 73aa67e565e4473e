"""One entry point for every log format: pick the reader by the file's name (or the caller's choice)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from isthmus.errors import InvalidInput, Location
from isthmus.mining._encoded import encoded
from isthmus.mining._log import EventLog
from isthmus.mining._ocel import read_ocel
from isthmus.mining._tabular import ColumnMapping, read_csv, read_parquet
from isthmus.mining._xes import read_xes


class LogFormat(StrEnum):
    CSV = "csv"
    XES = "xes"
    PARQUET = "parquet"
    OCEL = "ocel"


def detect_format(name: str) -> LogFormat:
    lower = name.lower()
    if lower.endswith((".xes", ".xes.gz")):
        return LogFormat.XES
    if lower.endswith((".parquet", ".pq")):
        return LogFormat.PARQUET
    if lower.endswith((".jsonocel", ".xmlocel", ".ocel", ".ocel.json", ".ocel.xml")):
        return LogFormat.OCEL
    if lower.endswith((".csv", ".tsv", ".txt")):
        return LogFormat.CSV
    raise InvalidInput(
        "unknown event log format; expected .csv, .xes, .xes.gz, .parquet, .jsonocel or .xmlocel",
        location=Location(file=name),
    )


def read_log(
    path: Path,
    mapping: ColumnMapping | None = None,
    *,
    fmt: LogFormat | None = None,
    progress: Callable[[int], None] | None = None,
) -> EventLog:
    """Read the log at ``path`` into the Isthmus schema, sorted by case, timestamp, source order,
    with its integer view (``_encoded.py``) built — importing means making the log ready to analyse.

    Raises ``InvalidInput`` (with file, line and column where known) for anything unreadable.
    """
    mapping = mapping or ColumnMapping()
    kind = fmt or detect_format(path.name)
    if kind is LogFormat.XES:
        frame = read_xes(path, progress=progress)
    elif kind is LogFormat.PARQUET:
        frame = read_parquet(path, mapping)
    elif kind is LogFormat.OCEL:
        frame = read_ocel(path, mapping.object_type)
    else:
        frame = read_csv(path, mapping)
    log = EventLog.of(frame)
    view = encoded(log)  # the integer view every analysis (and the registry's statistics) starts from
    if view is not None:
        view.case_ids(log.frame)
    return log
