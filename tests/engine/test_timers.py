"""Scenario tests: intermediate timer catch, non-interrupting cycle boundary, interrupting boundary."""

from __future__ import annotations

from datetime import timedelta

from tests.engine.harness import Run, load


def test_timer_catch_then_boundaries() -> None:
    run = Run(load("timers.bpmn")).start()
    assert run.completed == ["start"]
    assert not run.tasks
    run.advance(timedelta(minutes=59))
    assert run.completed == ["start"]
    run.advance(timedelta(minutes=1))
    assert run.completed == ["start", "pause"]
    assert run.task("work")
    run.advance(timedelta(minutes=25))  # the reminder cycle fired twice, the task is still open
    assert run.completed.count("remind") == 2
    assert run.task("work")
    run.advance(timedelta(minutes=35))  # the interrupting timeout
    assert run.completed == ["start", "pause", "remind", "reminded", "remind", "reminded", "timeout"]
    assert "work" not in [n for n, _ in run.tasks.values()]
    run.complete("escalated")
    assert run.completed[-2:] == ["escalated", "end"]
    assert run.status == "completed"


def test_completing_in_time_makes_the_timers_stale() -> None:
    run = Run(load("timers.bpmn")).start().advance(timedelta(hours=1))
    run.complete("work")
    assert run.status == "completed"
    run.advance(timedelta(hours=5))
    assert run.completed == ["start", "pause", "work", "end"]
