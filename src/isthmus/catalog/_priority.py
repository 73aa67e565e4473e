"""The priority formula: the guide's "high-value, clear-pain, easy-to-land processes first".

    score = 0.40 × value + 0.35 × pain + 0.25 × ease          (each 1–5, so score is 1–5)
    high   when score ≥ 3.75
    medium when 2.50 ≤ score < 3.75
    low    otherwise

Value weighs most because the guide's SMART goals are business outcomes (72 h → 36 h order
handling); ease weighs least because a hard, valuable change is still worth planning. The
thresholds split the 1–5 range into a top quarter-and-a-bit, a middle and the rest; see
``docs/catalog.md`` for worked examples from the guide's three processes.
"""

from __future__ import annotations

from decimal import Decimal

from isthmus.catalog._process import Priority, PriorityScores, Process

WEIGHTS = {"value": Decimal("0.40"), "pain": Decimal("0.35"), "ease": Decimal("0.25")}
HIGH_FROM = Decimal("3.75")
MEDIUM_FROM = Decimal("2.50")


def priority_score(scores: PriorityScores) -> Decimal:
    """The weighted score, exact (Decimal), from 1.00 to 5.00."""
    return WEIGHTS["value"] * scores.value + WEIGHTS["pain"] * scores.pain + WEIGHTS["ease"] * scores.ease


def priority_for(scores: PriorityScores) -> Priority:
    score = priority_score(scores)
    if score >= HIGH_FROM:
        return Priority.HIGH
    if score >= MEDIUM_FROM:
        return Priority.MEDIUM
    return Priority.LOW


def settle_priority(process: Process) -> Process:
    """Apply the formula unless the priority was set by hand (then it is kept and marked manual)."""
    if process.priority_manual or process.scores is None:
        return process.with_changes(priority_manual=process.priority_manual or process.scores is None)
    return process.with_changes(priority=priority_for(process.scores))
