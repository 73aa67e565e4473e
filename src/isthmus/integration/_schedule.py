"""Triggers: a webhook (real time), a poll interval, or a cron schedule in a time zone.

Cron is the classic five fields (minute hour day-of-month month day-of-week) with ``*``, lists,
ranges and ``/step``; ``0 22 * * *`` is the guide's "daily at 22:00". Day of week: 0 or 7 = Sunday.
When both day fields are restricted, either may match (as Vixie cron does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


class TriggerKind(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"
    CRON = "cron"
    MANUAL = "manual"


class CronError(ValueError):
    """A cron text that does not parse; the message names the field."""


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if step_text and not step_text.isdigit():
            raise CronError(f"{name}: bad step {step_text!r}")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            if not (a.isdigit() and b.isdigit()):
                raise CronError(f"{name}: bad range {body!r}")
            start, end = int(a), int(b)
        elif body.isdigit():
            start = int(body)
            end = high if step_text else start
        else:
            raise CronError(f"{name}: expected a number, '*', a range or a list, got {body!r}")
        if start < low or end > high or start > end:
            raise CronError(f"{name}: {body!r} outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed cron text in a time zone.

    Example:
        >>> s = CronSchedule.parse("0 22 * * *", "Asia/Shanghai")
        >>> s.next_after(datetime(2024, 7, 15, 12, 0, tzinfo=UTC)).isoformat()
        '2024-07-15T14:00:00+00:00'
    """

    text: str
    timezone: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_any: bool
    weekdays_any: bool

    @classmethod
    def parse(cls, text: str, timezone: str = "UTC") -> CronSchedule:
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"expected 5 fields (minute hour day month weekday), got {len(parts)}")
        sets = [_parse_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        try:
            ZoneInfo(timezone)
        except (KeyError, ValueError) as exc:
            raise CronError(f"unknown time zone {timezone!r}") from exc
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(
            text, timezone, sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] == "*", parts[4] == "*"
        )

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_any or self.weekdays_any:
            return dom and dow
        return dom or dow

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after ``moment`` (aware), in UTC."""
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = local.date()
        for _ in range(366 * 5):
            if self._day_matches(day):
                earliest = local.time() if day == local.date() else time(0, 0)
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        if time(hour, minute) >= earliest:
                            return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)
            day += timedelta(days=1)
        raise CronError(f"{self.text!r} never fires")


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a flow runs: ``webhook`` (each message as it arrives), ``poll`` every ``interval_s``,
    ``cron`` on a schedule, or ``manual`` (``isthmus flow run`` only)."""

    kind: TriggerKind
    interval_s: float | None = None
    cron: CronSchedule | None = None

    def describe(self) -> str:
        """The guide's 交换频率 column: 实时 / every N s / the cron text."""
        if self.kind is TriggerKind.WEBHOOK:
            return "实时 (real time)"
        if self.kind is TriggerKind.POLL:
            return f"every {self.interval_s:g} s"
        if self.cron is not None:
            return f"cron {self.cron.text} ({self.cron.timezone})"
        return "manual"
