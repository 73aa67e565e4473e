"""Per-node SLAs of a catalog process: the owner's "every key node gets an SLA" (the guide, phase 2).

A node is named as the activity appears in the system's log (the same text a BPMN task carries as
its name), and its SLA is an ISO 8601 duration of fixed length: weeks, days, hours, minutes,
seconds (``PT4H``, ``P2D``, ``P1DT12H``). Years and months are refused because their length in
seconds depends on the calendar, and an SLA breach must be a yes/no on the numbers alone.

SLAs are kept beside the table-1 row, not in it: table 1's layout is the guide's and stays as it is;
the workbook carries them on a sheet of their own (see ``_spreadsheet``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from isthmus.errors import InvalidInput, Location

MAX_SLAS = 200
MAX_NODE = 200
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class NodeSla:
    """One key node and the longest its lead time (waiting before it + its service) may be."""

    node: str
    duration: str

    @property
    def seconds(self) -> float:
        return sla_duration(self.duration).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "duration": self.duration, "seconds": self.seconds}


def sla_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration of fixed length; raises :class:`InvalidInput` otherwise."""
    value = text.strip().upper()
    match = _ISO.match(value)
    if not match or value in ("P", "PT") or value.endswith("T"):
        raise InvalidInput("expected an ISO 8601 duration such as PT4H or P2D, got {value!r}", value=text)
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


@dataclass(frozen=True, slots=True)
class SlaProblem:
    """One problem of an SLA list: the entry (``index`` None for the list itself) and its field."""

    index: int | None
    field: str
    template: str
    params: dict[str, Any]


def sla_problems(slas: Sequence[NodeSla]) -> list[SlaProblem]:
    """Every problem with a process's SLA list; empty means it may be stored.

    Nodes must be single-line, non-empty, at most :data:`MAX_NODE` characters and distinct (one SLA
    per node, or a breach would depend on which one was read first); durations positive.
    """
    problems: list[SlaProblem] = []
    if len(slas) > MAX_SLAS:
        problems.append(
            SlaProblem(
                None,
                "slas",
                "expected at most {limit} SLAs, got {count}",
                {"limit": MAX_SLAS, "count": len(slas)},
            )
        )
    seen: set[str] = set()
    for index, sla in enumerate(slas):
        node = sla.node.strip()
        if not node or len(node) > MAX_NODE or "\n" in node or _has_control(node):
            template = "expected a node name of 1 to {limit} characters on one line"
            problems.append(SlaProblem(index, "node", template, {"limit": MAX_NODE}))
        elif node in seen:
            problems.append(
                SlaProblem(index, "node", "node {node!r} has two SLAs; give each node one", {"node": node})
            )
        seen.add(node)
        try:
            if sla_duration(sla.duration) <= timedelta(0):
                template = "expected a duration longer than zero, got {value!r}"
                problems.append(SlaProblem(index, "duration", template, {"value": sla.duration}))
        except InvalidInput as error:
            problems.append(SlaProblem(index, "duration", error.template, dict(error.params)))
    return problems


def validate_slas(slas: Sequence[NodeSla], *, location: Location | None = None) -> list[InvalidInput]:
    """:func:`sla_problems` as errors whose field names the entry (``slas[2].duration``)."""
    base = location or Location()
    return [
        InvalidInput(
            p.template,
            location=Location(
                file=base.file,
                sheet=base.sheet,
                row=base.row,
                field=p.field if p.index is None else f"slas[{p.index}].{p.field}",
            ),
            **p.params,
        )
        for p in sla_problems(slas)
    ]


def normalized(slas: Sequence[NodeSla]) -> tuple[NodeSla, ...]:
    """The list as stored: node names trimmed, durations upper-case without spaces."""
    return tuple(NodeSla(s.node.strip(), s.duration.strip().upper()) for s in slas)


def parse_sla_lines(text: str) -> tuple[NodeSla, ...]:
    """``node = PT4H`` lines (``node: PT4H`` too; blank lines skipped), as typed in a form or on the
    command line. The last ``=`` (or ``:``) splits, so a node name may contain the other one."""
    found: list[NodeSla] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, duration = line.rpartition("=") if "=" in line else line.rpartition(":")
        if not sep or not name.strip() or not duration.strip():
            raise InvalidInput("SLA line {line}: write “node = PT4H”, got {value!r}", line=number, value=line)
        found.append(NodeSla(name.strip(), duration.strip()))
    return tuple(found)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)
