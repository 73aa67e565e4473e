"""Table 1 as rows of cells: the guide's headers, and the text form of each column.

The first ten columns are the guide's, with its Chinese headers exactly; English headers (the JSON
keys) are accepted on import too. Four optional columns after them carry what the guide's paper
form has no room for (the priority scores and whether the priority was set by hand), so an export
imports back without loss.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from isthmus.catalog._priority import settle_priority
from isthmus.catalog._process import (
    Priority,
    PriorityScores,
    Process,
    ProcessId,
    validate_process,
)
from isthmus.errors import InvalidInput, Location


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    en: str
    required: bool = False


GUIDE_COLUMNS: tuple[Column, ...] = (
    Column("id", "流程编号", "id", required=True),
    Column("name", "流程名称", "name", required=True),
    Column("department", "所属部门", "department"),
    Column("system_support", "当前系统支持情况", "system_support"),
    Column("owner", "流程负责人", "owner"),
    Column("roles", "参与角色", "roles"),
    Column("key_nodes", "关键节点数量", "key_nodes"),
    Column("avg_hours", "平均处理时长(小时)", "avg_hours"),
    Column("pain_points", "主要痛点问题", "pain_points"),
    Column("priority", "优化优先级(高/中/低)", "priority"),
)
EXTRA_COLUMNS: tuple[Column, ...] = (
    Column("value_score", "价值评分(1-5)", "value_score"),
    Column("pain_score", "痛点评分(1-5)", "pain_score"),
    Column("ease_score", "落地难易评分(1-5)", "ease_score"),
    Column("priority_source", "优先级来源(手动/计算)", "priority_source"),
)
ALL_COLUMNS = GUIDE_COLUMNS + EXTRA_COLUMNS

PRIORITY_TEXT = {Priority.HIGH: "高", Priority.MEDIUM: "中", Priority.LOW: "低"}
_PRIORITY_PARSE = {
    "高": Priority.HIGH,
    "中": Priority.MEDIUM,
    "低": Priority.LOW,
    "high": Priority.HIGH,
    "medium": Priority.MEDIUM,
    "low": Priority.LOW,
}
_SOURCE_PARSE = {"手动": True, "manual": True, "计算": False, "computed": False}
_LIST_SPLIT = re.compile(r"[、,，;；]")


def _normalise_header(text: str) -> str:
    """Headers as people type them: full-width brackets, stray spaces, a footnote asterisk."""
    text = text.strip().replace("（", "(").replace("）", ")").replace(" ", "").rstrip("*")
    return text.lower()


_HEADER_LOOKUP: dict[str, Column] = {}
for _column in ALL_COLUMNS:
    _HEADER_LOOKUP[_normalise_header(_column.zh)] = _column
    _HEADER_LOOKUP[_normalise_header(_column.en)] = _column
    _HEADER_LOOKUP[_normalise_header(_column.zh.split("(")[0])] = _column


def header_row(language: str = "zh_CN") -> list[str]:
    return [c.zh if language.startswith("zh") else c.en for c in ALL_COLUMNS]


def map_headers(cells: Sequence[Any], location: Location) -> dict[int, Column]:
    """Index → column for a header row; raises naming the unknown or missing header."""
    mapping: dict[int, Column] = {}
    problems: list[InvalidInput] = []
    for index, cell in enumerate(cells):
        if cell is None or str(cell).strip() == "":
            continue
        column = _HEADER_LOOKUP.get(_normalise_header(str(cell)))
        where = Location(file=location.file, sheet=location.sheet, row=location.row, column=index + 1)
        if column is None:
            problems.append(
                InvalidInput(
                    "unknown header {value!r}; expected one of the table 1 headers such as 流程编号 or id",
                    location=where,
                    value=str(cell),
                )
            )
        elif column in mapping.values():
            problems.append(InvalidInput("header {value!r} appears twice", location=where, value=str(cell)))
        else:
            mapping[index] = column
    for column in GUIDE_COLUMNS:
        if column.required and column not in mapping.values():
            problems.append(
                InvalidInput(
                    "missing the required column {zh} ({en})",
                    location=location,
                    zh=column.zh,
                    en=column.en,
                )
            )
    if problems:
        raise InvalidInput("the header row is not a table 1 header", location=location, details=problems)
    return mapping


_NUMBERED_START = re.compile(r"^\s*1\s*[.、．)]")
_NEXT_NUMBER = re.compile(r"[;；]\s*(?=\d+\s*[.、．)])")


def split_list(text: str, *, numbered: bool) -> tuple[str, ...]:
    """Cell text → list.

    Roles: separated by 、 , ， ; ；. Pain points: one per line (our export), or the guide's
    ``1.…;2.…`` form — there a ";" only separates when the next running number follows it, so a
    pain point may itself contain ";".
    """
    text = text.strip()
    if not text:
        return ()
    if "\n" in text:
        parts = text.splitlines()
    elif not numbered:
        parts = _LIST_SPLIT.split(text)
    elif _NUMBERED_START.match(text):
        parts = _NEXT_NUMBER.split(text)
    else:
        parts = re.split(r"[;；]", text)
    items = [p.strip() for p in parts if p.strip()]
    if numbered:
        items = [_strip_number(item, i + 1) for i, item in enumerate(items)]
    return tuple(item for item in items if item)


def _strip_number(item: str, expected: int) -> str:
    """Drop the ``1.`` / ``1、`` the guide writes before each pain point, only when it is the
    running number (so a pain point starting with a year such as ``2024.`` is kept whole)."""
    match = re.match(rf"^{expected}\s*[.、．)]\s*", item)
    return item[match.end() :] if match else item


def join_list(items: Sequence[str], *, numbered: bool) -> str:
    if numbered:
        return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))
    return "、".join(items)


def process_to_row(process: Process) -> list[Any]:
    """One process as the cell values of :data:`ALL_COLUMNS`, in order."""
    scores = process.scores
    return [
        process.id,
        process.name,
        process.department,
        process.system_support,
        process.owner,
        join_list(process.roles, numbered=False),
        process.key_nodes,
        float(process.avg_hours)
        if process.avg_hours != process.avg_hours.to_integral_value()
        else int(process.avg_hours),
        join_list(process.pain_points, numbered=True),
        PRIORITY_TEXT[process.priority],
        scores.value if scores else None,
        scores.pain if scores else None,
        scores.ease if scores else None,
        "手动" if process.priority_manual else "计算",
    ]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _parse_int(text: str, lo: int, hi: int) -> int | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if number != number.to_integral_value() or not lo <= number <= hi:
        return None
    return int(number)


def row_to_process(cells: dict[Column, Any], location: Location) -> tuple[Process | None, list[InvalidInput]]:
    """Cells of one data row → a validated process, or the problems, each naming its column."""
    problems: list[InvalidInput] = []
    text = {c.key: _text(cells.get(c)) for c in ALL_COLUMNS}

    def bad(column: Column, template: str, **params: Any) -> None:
        where = Location(file=location.file, sheet=location.sheet, row=location.row, column=column.zh)
        problems.append(InvalidInput(template, location=where, **params))

    col = {c.key: c for c in ALL_COLUMNS}
    key_nodes = _parse_int(text["key_nodes"] or "0", 0, 10_000)
    if key_nodes is None:
        bad(
            col["key_nodes"],
            "expected a whole number of nodes (0–10000), got {value!r}",
            value=text["key_nodes"],
        )
    try:
        avg_hours = Decimal(text["avg_hours"] or "0")
        if not avg_hours.is_finite() or avg_hours < 0:
            raise InvalidOperation
        avg_hours = avg_hours.quantize(Decimal("0.01")).normalize()
    except InvalidOperation:
        bad(col["avg_hours"], "expected a number of hours ≥ 0, got {value!r}", value=text["avg_hours"])
        avg_hours = Decimal(0)
    priority = _PRIORITY_PARSE.get(text["priority"].lower()) if text["priority"] else None
    if text["priority"] and priority is None:
        bad(
            col["priority"],
            "expected 高, 中 or 低 (high, medium, low), got {value!r}",
            value=text["priority"],
        )
    scores = _scores(text, col, bad)
    manual = _SOURCE_PARSE.get(text["priority_source"].lower()) if text["priority_source"] else None
    if text["priority_source"] and manual is None:
        bad(
            col["priority_source"],
            "expected 手动 or 计算 (manual, computed), got {value!r}",
            value=text["priority_source"],
        )
    if manual is None:
        manual = priority is not None or scores is None
    if priority is None and scores is None:
        bad(col["priority"], "expected a priority (高/中/低) or the three scores to compute it")
    if problems:
        return None, problems
    process = settle_priority(
        Process(
            id=ProcessId(text["id"]),
            name=text["name"],
            department=text["department"],
            system_support=text["system_support"],
            owner=text["owner"],
            roles=split_list(text["roles"], numbered=False),
            key_nodes=key_nodes or 0,
            avg_hours=avg_hours,
            pain_points=split_list(_text(cells.get(col["pain_points"])), numbered=True),
            priority=priority or Priority.MEDIUM,
            priority_manual=manual,
            scores=scores,
        )
    )
    by_field = {c.key: c.zh for c in ALL_COLUMNS}
    return process, [
        InvalidInput(
            problem.template,
            location=Location(
                file=location.file,
                sheet=location.sheet,
                row=location.row,
                column=by_field.get(problem.location.field or "", problem.location.field)
                if problem.location
                else None,
            ),
            **problem.params,
        )
        for problem in validate_process(process, location=location)
    ]


def _scores(text: dict[str, str], col: dict[str, Column], bad: Any) -> PriorityScores | None:
    raw = [text["value_score"], text["pain_score"], text["ease_score"]]
    if not any(raw):
        return None
    parsed: list[int] = []
    for key, value in zip(("value_score", "pain_score", "ease_score"), raw, strict=True):
        number = _parse_int(value, 1, 5) if value else None
        if number is None:
            bad(
                col[key],
                "expected a score from 1 to 5 (all three scores or none), got {value!r}",
                value=value,
            )
            return None
        parsed.append(number)
    return PriorityScores(value=parsed[0], pain=parsed[1], ease=parsed[2])
