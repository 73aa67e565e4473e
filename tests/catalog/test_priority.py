"""The documented priority formula."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from isthmus.catalog import (
    Priority,
    PriorityScores,
    Process,
    ProcessId,
    priority_for,
    priority_score,
    settle_priority,
)

scores = st.builds(PriorityScores, value=st.integers(1, 5), pain=st.integers(1, 5), ease=st.integers(1, 5))


def test_worked_examples_from_the_docs() -> None:
    assert priority_score(PriorityScores(value=5, pain=5, ease=3)) == Decimal("4.50")
    assert priority_for(PriorityScores(value=5, pain=5, ease=3)) is Priority.HIGH
    assert priority_for(PriorityScores(value=3, pain=3, ease=3)) is Priority.MEDIUM
    assert priority_for(PriorityScores(value=1, pain=2, ease=5)) is Priority.LOW


@given(scores)
def test_score_stays_within_one_to_five(s: PriorityScores) -> None:
    assert Decimal(1) <= priority_score(s) <= Decimal(5)


@given(scores, st.sampled_from(["value", "pain", "ease"]))
def test_more_value_pain_or_ease_never_lowers_priority(s: PriorityScores, field: str) -> None:
    current = getattr(s, field)
    if current == 5:
        return
    better = PriorityScores(**{**{"value": s.value, "pain": s.pain, "ease": s.ease}, field: current + 1})
    rank = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2}
    assert rank[priority_for(better)] >= rank[priority_for(s)]


def test_manual_priority_is_kept_and_computed_one_follows_scores() -> None:
    base = Process(
        id=ProcessId("X-1"), name="x", priority=Priority.LOW, scores=PriorityScores(value=5, pain=5, ease=5)
    )
    assert settle_priority(base).priority is Priority.LOW
    computed = settle_priority(base.with_changes(priority_manual=False))
    assert (computed.priority, computed.priority_manual) == (Priority.HIGH, False)
    no_scores = settle_priority(Process(id=ProcessId("X-2"), name="y", priority_manual=False))
    assert no_scores.priority_manual
