"""Scenario tests: exclusive, parallel and inclusive gateways (expected token paths)."""

from __future__ import annotations

from tests.engine.harness import Run, load


def test_exclusive_takes_the_true_condition() -> None:
    run = Run(load("exclusive.bpmn")).start(amount=80)
    assert run.completed == ["start", "double", "xor"]
    run.complete("review")
    assert run.completed == ["start", "double", "xor", "review", "merge", "end"]
    assert run.status == "completed"
    assert run.state.variables["total"] == 160


def test_exclusive_default_flow() -> None:
    run = Run(load("exclusive.bpmn")).start(amount=10)
    assert run.completed == ["start", "double", "xor", "auto", "merge", "end"]
    assert run.status == "completed"


def test_parallel_join_waits_for_both() -> None:
    run = Run(load("parallel.bpmn")).start()
    assert sorted(n for n, _ in run.tasks.values()) == ["a", "b"]
    run.complete("b")
    assert run.status == "active"
    assert "join" not in run.completed
    run.complete("a")
    assert run.completed == ["start", "fork", "b", "a", "join", "end"]
    assert run.status == "completed"


def test_inclusive_join_waits_only_for_tokens_that_can_arrive() -> None:
    run = Run(load("inclusive.bpmn")).start(x=3)
    assert sorted(n for n, _ in run.tasks.values()) == ["a", "wait"]
    run.complete("a")
    assert "join" not in run.completed
    run.complete("wait")
    assert run.completed == ["start", "split", "b", "a", "wait", "join", "end"]


def test_inclusive_one_branch_does_not_wait() -> None:
    run = Run(load("inclusive.bpmn")).start(x=2)
    run.complete("a")
    assert run.completed == ["start", "split", "a", "join", "end"]
    assert run.status == "completed"


def test_inclusive_default_flow() -> None:
    run = Run(load("inclusive.bpmn")).start(x=0)
    assert run.completed == ["start", "split", "c", "join", "end"]
