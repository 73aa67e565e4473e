"""Per-evaluation state: warnings, the deadline, call depth and size limits.

A FEEL runtime error never raises: the offending sub-expression is null and a warning is recorded
(DMN 1.5 §10.3.2.11). Only exceeding an :class:`EvaluationLimits` bound aborts a whole evaluation,
with :class:`LimitExceeded`, which the public ``evaluate`` turns into null plus a warning.
"""

from __future__ import annotations

import time
from collections.abc import Sized
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

Sized_ = TypeVar("Sized_", bound=Sized)


@dataclass(frozen=True, slots=True)
class EvaluationLimits:
    """Bounds on one evaluation; exceeding one makes the whole result null with a warning.

    >>> EvaluationLimits(max_seconds=0.5).max_depth
    64
    """

    #: nested invocations of FEEL functions (recursion)
    max_depth: int = 64
    #: wall time of one ``evaluate`` call, checked in loops and invocations
    max_seconds: float = 5.0
    #: the longest list or string an evaluation may build
    max_size: int = 1_000_000
    #: the longest text a regular expression (``matches``, ``replace``, ``split``) may be applied to
    max_regex_input: int = 100_000


DEFAULT_LIMITS = EvaluationLimits()


class LimitExceeded(Exception):
    """An :class:`EvaluationLimits` bound was hit; unwinds the whole evaluation."""


class Run:
    """The state of one evaluation, reachable from every closure through :data:`CURRENT`."""

    __slots__ = ("deadline", "depth", "limits", "ticks", "warnings")

    def __init__(self, limits: EvaluationLimits, warnings: list[str] | None) -> None:
        self.limits = limits
        self.warnings = warnings
        self.depth = 0
        self.ticks = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def tick(self) -> None:
        """Called once per loop iteration and invocation: checks the deadline every 64 ticks."""
        self.ticks += 1
        if not self.ticks & 63 and time.monotonic() > self.deadline:
            raise LimitExceeded(f"evaluation exceeded {self.limits.max_seconds} s")


CURRENT: ContextVar[Run | None] = ContextVar("isthmus_feel_run", default=None)


def warn(message: str) -> None:
    """Record a runtime problem of the current evaluation (dropped when nobody listens)."""
    run = CURRENT.get()
    if run is not None and run.warnings is not None:
        run.warnings.append(message)


def null(message: str) -> None:
    """``return null(...)``: the FEEL way to fail — warn and yield null."""
    warn(message)


def tick() -> None:
    run = CURRENT.get()
    if run is not None:
        run.tick()


def check_size(value: Sized_) -> Sized_:
    """Abort when a built list or string is longer than the limit allows."""
    run = CURRENT.get()
    limit = run.limits.max_size if run is not None else DEFAULT_LIMITS.max_size
    if len(value) > limit:
        raise LimitExceeded(f"result longer than {limit} items")
    return value


def limits() -> EvaluationLimits:
    run = CURRENT.get()
    return run.limits if run is not None else DEFAULT_LIMITS
