"""Table 1 in and out of Excel (.xlsx) and CSV files.

Per-node SLAs ride along in a workbook on a second sheet, :data:`SLA_SHEET_TITLE` (流程编号, 关键节点,
SLA), one row per node; table 1's own sheet keeps the guide's layout untouched. CSV has one table
only, so a CSV carries no SLAs and importing one leaves the stored SLAs alone.

Reading is all-or-nothing: every problem in every row is collected, and the caller gets either all
processes or one :class:`InvalidInput` whose ``details`` name sheet, row and column of each problem.
openpyxl parses the workbook's XML through defusedxml when it is installed (it is a dependency), so
a hostile workbook cannot expand entities.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils.exceptions import InvalidFileException

from isthmus.catalog._process import Process, ProcessId
from isthmus.catalog._sla import NodeSla, normalized, sla_problems
from isthmus.catalog._table import (
    ALL_COLUMNS,
    Column,
    header_row,
    map_headers,
    process_to_row,
    row_to_process,
)
from isthmus.errors import InvalidInput, Location

SHEET_TITLE = "流程现状分析表"
SLA_SHEET_TITLE = "关键节点SLA"
# The SLA sheet's headers, Chinese as exported and the English keys accepted too.
SLA_HEADERS = {"zh_CN": ("流程编号", "关键节点", "SLA"), "en": ("process_id", "node", "sla")}
MAX_ROWS = 10_000
MAX_ERRORS_REPORTED = 50


def read_processes(data: bytes, filename: str) -> list[Process]:
    """Parse an ``.xlsx`` or ``.csv`` file of table 1 rows.

    Raises:
        InvalidInput: with one detail per bad cell, header or duplicate id; nothing is returned.
    """
    lower = filename.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        rows = _xlsx_rows(data, filename)
    elif lower.endswith((".csv", ".txt")):
        rows = _csv_rows(data, filename)
    else:
        raise InvalidInput("{file}: expected an .xlsx or .csv file", file=filename)
    return _rows_to_processes(rows, filename)


def _rows_to_processes(rows: Iterable[tuple[Location, Sequence[Any]]], filename: str) -> list[Process]:
    iterator = iter(rows)
    header_location, header = _first_nonblank(iterator, filename)
    columns = map_headers(header, header_location)
    processes: list[Process] = []
    problems: list[InvalidInput] = []
    first_seen: dict[str, Location] = {}
    for location, cells in iterator:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        if len(processes) + len(problems) >= MAX_ROWS:
            raise InvalidInput(
                "too many rows: at most {limit} processes per file", location=location, limit=MAX_ROWS
            )
        by_column: dict[Column, Any] = {col: cells[i] for i, col in columns.items() if i < len(cells)}
        process, row_problems = row_to_process(by_column, location)
        problems.extend(row_problems)
        if process is None:
            continue
        if process.id in first_seen:
            problems.append(
                InvalidInput(
                    "duplicate process id {value!r}, first seen at row {first}",
                    location=Location(
                        file=location.file, sheet=location.sheet, row=location.row, column="流程编号"
                    ),
                    value=process.id,
                    first=first_seen[process.id].row,
                )
            )
            continue
        first_seen[process.id] = location
        processes.append(process)
    if problems:
        shown = problems[:MAX_ERRORS_REPORTED]
        first = shown[0]
        raise InvalidInput(
            "{count} problem(s) in the file, nothing was imported; first: {first}",
            location=Location(file=filename),
            details=shown,
            count=len(problems),
            first=first.message,
        )
    return processes


def _first_nonblank(
    rows: Iterator[tuple[Location, Sequence[Any]]], filename: str
) -> tuple[Location, Sequence[Any]]:
    for location, cells in rows:
        if any(c is not None and str(c).strip() for c in cells):
            return location, cells
    raise InvalidInput(
        "the file is empty: expected a header row such as 流程编号, 流程名称, …",
        location=Location(file=filename),
    )


def _xlsx_rows(data: bytes, filename: str) -> Iterator[tuple[Location, Sequence[Any]]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(
            "not a readable Excel workbook ({reason})",
            location=Location(file=filename),
            reason=type(exc).__name__,
        ) from exc
    try:
        sheet = workbook[SHEET_TITLE] if SHEET_TITLE in workbook.sheetnames else workbook.worksheets[0]
        rows = [
            (Location(file=filename, sheet=sheet.title, row=index), row)
            for index, row in enumerate(sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 50), start=1)
        ]
    finally:
        workbook.close()
    return iter(rows)


def _csv_rows(data: bytes, filename: str) -> Iterator[tuple[Location, Sequence[Any]]]:
    text = _decode(data, filename)
    # Only the delimiter is guessed, from the header line: csv.Sniffer also guesses quoting and
    # gets it wrong on cells that contain quotes.
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    dialect: Any = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect, delimiter=delimiter)
    try:
        rows = [(Location(file=filename, row=index), row) for index, row in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise InvalidInput(
            "malformed CSV: {reason}", location=Location(file=filename, line=reader.line_num), reason=str(exc)
        ) from exc
    return iter(rows)


def _decode(data: bytes, filename: str) -> str:
    """UTF-8 (with or without BOM) first; Chinese spreadsheets saved by Excel are often GB18030/GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        "cannot decode the file: expected UTF-8 or GB18030 text", location=Location(file=filename)
    )


def write_xlsx(
    processes: Sequence[Process],
    language: str = "zh_CN",
    slas: Mapping[ProcessId, Sequence[NodeSla]] | None = None,
) -> bytes:
    """A workbook with one sheet in the guide's layout (header row bold, lists one per line), and
    when ``slas`` is given a second sheet with each process's node SLAs."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = SHEET_TITLE
    sheet.append(header_row(language))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for process in processes:
        sheet.append(process_to_row(process))
        for cell in sheet[sheet.max_row]:
            # Text is text: a name starting with "=" must not become a formula (formula injection).
            if isinstance(cell.value, str):
                cell.data_type = "s"
    widths = [14, 22, 12, 26, 12, 28, 12, 16, 50, 14, 12, 12, 14, 16]
    for index, width in enumerate(widths[: len(ALL_COLUMNS)]):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    if slas is not None:
        _write_sla_sheet(workbook, processes, slas, language)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_csv(processes: Sequence[Process], language: str = "zh_CN") -> bytes:
    """UTF-8 with a BOM, so Excel opens the Chinese headers correctly."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header_row(language))
    for process in processes:
        writer.writerow(["" if v is None else v for v in process_to_row(process)])
    return buffer.getvalue().encode("utf-8-sig")


def _write_sla_sheet(
    workbook: Workbook,
    processes: Sequence[Process],
    slas: Mapping[ProcessId, Sequence[NodeSla]],
    language: str,
) -> None:
    sheet = workbook.create_sheet(SLA_SHEET_TITLE)
    sheet.append(list(SLA_HEADERS["en" if language.startswith("en") else "zh_CN"]))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for process in processes:
        for sla in slas.get(process.id, ()):
            sheet.append([process.id, sla.node, sla.duration])
            for cell in sheet[sheet.max_row]:
                cell.data_type = "s"
    for column, width in zip("ABC", (14, 30, 14), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"


def read_slas(
    data: bytes, filename: str, process_ids: Iterable[str]
) -> dict[ProcessId, tuple[NodeSla, ...]] | None:
    """The SLA sheet of a workbook as ``{process id: SLAs}`` for every process in ``process_ids``
    (the ids of its table-1 sheet; one without rows gets no SLAs), or None when the file has no SLA
    sheet (a CSV, or a workbook made by hand) — then the stored SLAs stay as they are.

    Raises:
        InvalidInput: naming sheet, row and column of each bad row; a row may only name a process of
            the same file.
    """
    if not filename.lower().endswith((".xlsx", ".xlsm")):
        return None
    rows = _sla_rows(data, filename)
    if rows is None:
        return None
    known = set(process_ids)
    found: dict[ProcessId, list[NodeSla]] = {ProcessId(i): [] for i in known}
    where: dict[ProcessId, list[Location]] = {ProcessId(i): [] for i in known}
    problems: list[InvalidInput] = []
    iterator = iter(rows)
    header = next(iterator, None)
    if header is not None:
        _check_sla_header(header, problems)
    for location, cells in iterator:
        values = ["" if c is None else str(c).strip() for c in (*cells, None, None, None)[:3]]
        if not any(values):
            continue
        process_id, node, duration = values
        if process_id not in known:
            problems.append(
                InvalidInput(
                    "process {value!r} is not on the sheet {sheet} of this file",
                    location=_at(location, "流程编号"),
                    value=process_id,
                    sheet=SHEET_TITLE,
                )
            )
            continue
        found[ProcessId(process_id)].append(NodeSla(node, duration))
        where[ProcessId(process_id)].append(location)
    for process_id, items in found.items():
        for problem in sla_problems(items):
            column = "SLA" if problem.field == "duration" else "关键节点"
            at = where[process_id][problem.index or 0] if where[process_id] else Location(file=filename)
            problems.append(InvalidInput(problem.template, location=_at(at, column), **problem.params))
    if problems:
        raise InvalidInput(
            "{count} problem(s) in the file, nothing was imported; first: {first}",
            location=Location(file=filename),
            details=problems[:MAX_ERRORS_REPORTED],
            count=len(problems),
            first=problems[0].message,
        )
    return {process_id: normalized(items) for process_id, items in found.items()}


def _at(location: Location, column: str) -> Location:
    return Location(file=location.file, sheet=location.sheet, row=location.row, column=column)


def _check_sla_header(header: tuple[Location, Sequence[Any]], problems: list[InvalidInput]) -> None:
    location, cells = header
    texts = tuple("" if c is None else str(c).strip() for c in (*cells, None, None, None)[:3])
    if texts not in SLA_HEADERS.values():
        problems.append(
            InvalidInput(
                "expected the headers {expected}, got {value}",
                location=location,
                expected=", ".join(SLA_HEADERS["zh_CN"]),
                value=", ".join(texts),
            )
        )


def _sla_rows(data: bytes, filename: str) -> list[tuple[Location, Sequence[Any]]] | None:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(
            "not a readable Excel workbook ({reason})",
            location=Location(file=filename),
            reason=type(exc).__name__,
        ) from exc
    try:
        if SLA_SHEET_TITLE not in workbook.sheetnames:
            return None
        sheet = workbook[SLA_SHEET_TITLE]
        return [
            (Location(file=filename, sheet=sheet.title, row=index), row)
            for index, row in enumerate(sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 50), start=1)
        ]
    finally:
        workbook.close()
