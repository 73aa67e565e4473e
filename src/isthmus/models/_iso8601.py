"""ISO 8601 as BPMN timers write it: dates, durations and repeating intervals (ISO 8601-1, 5.5).

Timer literals (``<timeDuration>PT4H</timeDuration>``) are checked when a model is deployed and
evaluated by the engine with these same functions; a FEEL timer (``=due_date``) is evaluated at
run time and its value read with them too.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from isthmus.errors import InvalidInput

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)
_REPEAT = re.compile(r"^R(?P<count>\d*)$")


@dataclass(frozen=True, slots=True)
class IsoDuration:
    """A duration with its calendar part (years, months) kept apart from the exact part.

    >>> IsoDuration.parse("P1M2DT3H").after(datetime(2024, 1, 31, tzinfo=UTC)).isoformat()
    '2024-03-02T03:00:00+00:00'
    """

    months: int = 0
    exact: timedelta = timedelta(0)

    @classmethod
    def parse(cls, text: str) -> IsoDuration:
        """``PnYnMnWnDTnHnMnS`` (any part may be omitted, seconds may have a fraction)."""
        found = _DURATION.match(text.strip())
        if found is None or text.strip().endswith("T"):
            raise InvalidInput("{text!r} is not an ISO 8601 duration such as PT10M or P1DT2H", text=text)
        part = {k: v for k, v in found.groupdict().items() if v is not None and k != "sign"}
        sign = -1 if found.group("sign") else 1
        months = int(part.get("years", 0)) * 12 + int(part.get("months", 0))
        exact = timedelta(
            weeks=int(part.get("weeks", 0)),
            days=int(part.get("days", 0)),
            hours=int(part.get("hours", 0)),
            minutes=int(part.get("minutes", 0)),
            seconds=float(part.get("seconds", "0").replace(",", ".")),
        )
        return cls(sign * months, sign * exact)

    def after(self, start: datetime) -> datetime:
        """``start`` plus this duration (months first, clamped to the month's last day, then the rest)."""
        return _add_months(start, self.months) + self.exact


@dataclass(frozen=True, slots=True)
class IsoCycle:
    """A repeating interval ``R[n]/[start/]duration`` (``R/…`` or ``R-1/…`` repeat forever)."""

    repetitions: int | None
    interval: IsoDuration
    start: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> IsoCycle:
        parts = text.strip().split("/")
        repeat = _REPEAT.match(parts[0]) if parts else None
        if repeat is None or len(parts) not in (2, 3):
            raise InvalidInput("{text!r} is not an ISO 8601 repeating interval such as R3/PT1H", text=text)
        count = int(repeat.group("count")) if repeat.group("count") else None
        if len(parts) == 3:
            return cls(count, IsoDuration.parse(parts[2]), parse_datetime(parts[1]))
        return cls(count, IsoDuration.parse(parts[1]))

    def due_times(self, now: datetime, limit: int = 1000) -> list[datetime]:
        """The first due times, at most ``limit``: ``start`` and every interval after it, else the
        intervals after ``now`` (how Camunda and Zeebe schedule ``R3/PT1H`` and ``R3/<start>/PT1H``)."""
        count = limit if self.repetitions is None else min(self.repetitions, limit)
        current = self.start if self.start is not None else self.interval.after(now)
        found: list[datetime] = []
        for _ in range(count):
            found.append(current)
            current = self.interval.after(current)
        return found


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is taken as UTC. Always returns UTC."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise InvalidInput(
            "{text!r} is not an ISO 8601 date-time such as 2026-12-01T09:00:00Z", text=text
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _add_months(start: datetime, months: int) -> datetime:
    if not months:
        return start
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return start.replace(year=year, month=month + 1, day=day)
