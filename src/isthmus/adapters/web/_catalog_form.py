"""The process form: raw text fields in, a :class:`Process` or per-field errors out.

Field names are the ones ``validate_process`` puts in ``location.field`` (``id``, ``avg_hours``,
``value_score`` …), so service errors land next to the right input without a mapping table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from isthmus.catalog import (
    HIGH_FROM,
    MEDIUM_FROM,
    WEIGHTS,
    Priority,
    PriorityScores,
    Process,
    ProcessId,
    priority_score,
    validate_process,
)
from isthmus.errors import InvalidInput, IsthmusError, Location

MANUAL = "manual"
COMPUTED = "computed"
FORMULA = {
    "value": str(WEIGHTS["value"]),
    "pain": str(WEIGHTS["pain"]),
    "ease": str(WEIGHTS["ease"]),
    "high": str(HIGH_FROM),
    "medium": str(MEDIUM_FROM),
}


@dataclass
class ProcessForm:
    """What the person typed, kept as text so a bad value is shown back as typed."""

    id: str = ""
    name: str = ""
    department: str = ""
    system_support: str = ""
    owner: str = ""
    roles: str = ""
    key_nodes: str = "0"
    avg_hours: str = "0"
    pain_points: str = ""
    priority_mode: str = MANUAL
    priority: str = Priority.MEDIUM.value
    value_score: str = "3"
    pain_score: str = "3"
    ease_score: str = "3"
    version: str = "1"

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ProcessForm:
        names = {f.name for f in fields(cls)}
        return cls(**{k: str(v).strip() for k, v in data.items() if k in names and isinstance(v, str)})

    @classmethod
    def from_process(cls, process: Process) -> ProcessForm:
        scores = process.scores or PriorityScores(3, 3, 3)
        return cls(
            id=process.id,
            name=process.name,
            department=process.department,
            system_support=process.system_support,
            owner=process.owner,
            roles="\n".join(process.roles),
            key_nodes=str(process.key_nodes),
            avg_hours=str(process.avg_hours.normalize() if process.avg_hours else 0),
            pain_points="\n".join(process.pain_points),
            priority_mode=MANUAL if process.priority_manual else COMPUTED,
            priority=process.priority.value,
            value_score=str(scores.value),
            pain_score=str(scores.pain),
            ease_score=str(scores.ease),
            version=str(process.version),
        )

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


class _Parser:
    def __init__(self) -> None:
        self.problems: list[InvalidInput] = []

    def bad(self, field: str, template: str, **params: Any) -> None:
        self.problems.append(InvalidInput(template, location=Location(field=field), **params))

    def integer(self, field: str, text: str, low: int, high: int) -> int:
        try:
            number = int(text or "0")
        except ValueError:
            self.bad(
                field,
                "expected a whole number from {low} to {high}, got {value!r}",
                low=low,
                high=high,
                value=text,
            )
            return low
        if not low <= number <= high:
            self.bad(
                field,
                "expected a whole number from {low} to {high}, got {value!r}",
                low=low,
                high=high,
                value=text,
            )
        return number

    def hours(self, field: str, text: str) -> Decimal:
        try:
            value = Decimal(text or "0")
        except InvalidOperation:
            self.bad(field, "expected a number of hours such as 48 or 1.5, got {value!r}", value=text)
            return Decimal(0)
        if not value.is_finite():
            self.bad(field, "expected a number of hours such as 48 or 1.5, got {value!r}", value=text)
            return Decimal(0)
        return value


def to_process(form: ProcessForm) -> Process:
    """The process the form describes; raises InvalidInput with one detail per bad field."""
    parser = _Parser()
    key_nodes = parser.integer("key_nodes", form.key_nodes, 0, 10_000)
    avg_hours = parser.hours("avg_hours", form.avg_hours)
    version = parser.integer("version", form.version, 1, 2**31)
    manual = form.priority_mode != COMPUTED
    scores = None
    priority = Priority.MEDIUM
    if manual:
        try:
            priority = Priority(form.priority)
        except ValueError:
            parser.bad("priority", "expected high, medium or low, got {value!r}", value=form.priority)
    else:
        scores = PriorityScores(
            value=parser.integer("value_score", form.value_score, 1, 5),
            pain=parser.integer("pain_score", form.pain_score, 1, 5),
            ease=parser.integer("ease_score", form.ease_score, 1, 5),
        )
    process = Process(
        id=ProcessId(form.id),
        name=form.name,
        department=form.department,
        system_support=form.system_support,
        owner=form.owner,
        roles=_lines(form.roles),
        key_nodes=key_nodes,
        avg_hours=avg_hours,
        pain_points=_lines(form.pain_points),
        priority=priority,
        priority_manual=manual,
        scores=scores,
        version=version,
    )
    # Report every problem at once: the domain's checks on fields the form could parse too.
    flagged = {p.location.field for p in parser.problems if p.location}
    problems = parser.problems + [
        p for p in validate_process(process) if not p.location or p.location.field not in flagged
    ]
    if problems:
        raise InvalidInput("{first}", details=problems, first=problems[0].message)
    return process


def field_errors(error: IsthmusError) -> dict[str, list[IsthmusError]]:
    """Problems by form field; problems without a field go under ``""`` (shown above the form)."""
    grouped: dict[str, list[IsthmusError]] = {}
    for problem in error.details or [error]:
        field = problem.location.field if problem.location and problem.location.field else ""
        grouped.setdefault(field, []).append(problem)
    return grouped


def computed_score(process: Process) -> Decimal | None:
    """The formula's score, shown next to a computed priority so the badge can be checked."""
    if process.priority_manual or process.scores is None:
        return None
    return priority_score(process.scores)
