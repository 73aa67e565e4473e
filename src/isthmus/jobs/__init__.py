"""Background jobs: the unit of deferred work for engine steps, timers, flow deliveries and
notifications.

A job is enqueued in the same transaction as the state change that causes it (the outbox
pattern), claimed by one worker at a time under a lease, and either completes, is retried with
exponential backoff, or — after its last attempt or on a terminal error — becomes an *incident*
that an operator can see and retry. Jobs that share a ``serial_key`` (e.g. one process instance)
never run at the same time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NewType

JobId = NewType("JobId", int)


class JobState(StrEnum):
    READY = "ready"  # waiting for its run_at
    RUNNING = "running"  # claimed by a worker under a lease
    DONE = "done"
    INCIDENT = "incident"  # gave up: needs an operator
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Default: 1 try + 3 retries ("retry automatically 3 times after a failed transfer", guide ch. 2),
    waiting 2 s, 4 s, 8 s … (capped), each ±20 % jitter so a recovering system is not hit in step."""

    max_attempts: int = 4
    base_delay_s: float = 2.0
    factor: float = 2.0
    max_delay_s: float = 3600.0
    jitter: float = 0.2

    def delay_after(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        raw = min(self.base_delay_s * self.factor ** (attempt - 1), self.max_delay_s)
        spread = raw * self.jitter
        chooser = rng or random
        return timedelta(seconds=max(0.0, raw + chooser.uniform(-spread, spread)))

    def as_dict(self) -> dict[str, float]:
        return {
            "max_attempts": self.max_attempts,
            "base_delay_s": self.base_delay_s,
            "factor": self.factor,
            "max_delay_s": self.max_delay_s,
            "jitter": self.jitter,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NewJob:
    """A job to enqueue. ``dedupe_key`` makes enqueueing idempotent: a second job with the same
    key is not created while the first exists."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    run_at: datetime | None = None
    serial_key: str | None = None
    dedupe_key: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    # a job whose first attempts already ran elsewhere (a synchronous service task that failed in
    # the step that reached it): how many, the state they left it in and the last error
    attempts: int = 0
    state: JobState = JobState.READY
    last_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    id: JobId
    kind: str
    payload: dict[str, Any]
    state: JobState
    attempts: int
    max_attempts: int
    run_at: datetime
    serial_key: str | None
    dedupe_key: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    locked_by: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "payload": self.payload,
            "state": self.state.value,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_at": self.run_at.isoformat(),
            "serial_key": self.serial_key,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


__all__ = ["Job", "JobId", "JobState", "NewJob", "RetryPolicy"]
