"""A chain of filters given as data (an API query, a web form), applied in a fixed order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from isthmus.mining._filters import (
    TimeMode,
    filter_attribute,
    filter_duration,
    filter_time,
    filter_top_variants,
)
from isthmus.mining._log import EventLog


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """Which part of a log to analyse. Empty: all of it. Order: time window, attribute values,
    case duration, then the top-k variants of what is left."""

    start: datetime | None = None
    end: datetime | None = None
    time_mode: TimeMode = TimeMode.CONTAINED
    attribute: str | None = None
    values: tuple[str, ...] = field(default_factory=tuple)
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    top_variants: int | None = None

    def __bool__(self) -> bool:
        return any(
            (self.start, self.end, self.attribute, self.min_duration_s is not None,
             self.max_duration_s is not None, self.top_variants)
        )  # fmt: skip

    def apply(self, log: EventLog) -> EventLog:
        if self.start is not None or self.end is not None:
            low = self.start or datetime(1, 1, 1, tzinfo=UTC)
            high = self.end or datetime(9999, 12, 31, tzinfo=UTC)
            log = filter_time(log, low, high, self.time_mode)
        if self.attribute:
            log = filter_attribute(log, self.attribute, list(self.values))
        if self.min_duration_s is not None or self.max_duration_s is not None:
            log = filter_duration(log, self.min_duration_s, self.max_duration_s)
        if self.top_variants:
            log = filter_top_variants(log, self.top_variants)
        return log
