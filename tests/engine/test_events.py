"""Scenario tests: event-based gateway, message and signal catch, receive task, errors and
escalations from a subprocess, event subprocesses, multi-instance, terminate end event."""

from __future__ import annotations

from datetime import timedelta

import pytest

from isthmus.engine import EngineIncident
from tests.engine.harness import Run, load


def test_event_gateway_message_wins_then_receive_task_and_signal() -> None:
    run = Run(load("events.bpmn")).start()
    run.message("paid", amount=5)
    assert run.completed == ["start", "which", "paid"]
    run.advance(timedelta(days=2))  # the timer branch is off
    assert "timeout" not in run.completed
    run.message("cancel")
    run.signal("go")
    assert run.completed == ["start", "which", "paid", "ship", "wait_go", "end"]
    assert run.status == "completed"
    assert run.state.variables["amount"] == 5


def test_event_gateway_timer_wins() -> None:
    run = Run(load("events.bpmn")).start().advance(timedelta(days=1))
    assert run.completed == ["start", "which", "timeout", "expired"]
    run.message("paid")
    assert run.completed[-1] == "expired"


def test_error_end_event_caught_by_the_subprocess_boundary() -> None:
    run = Run(load("errors.bpmn")).start(mode="error")
    assert run.completed == ["start", "sub_start", "sub_xor", "fail", "caught", "handled"]
    assert run.status == "completed"
    assert not run.state.scopes


def test_escalation_is_non_interrupting() -> None:
    run = Run(load("errors.bpmn")).start(mode="escalate")
    assert run.completed == [
        "start",
        "sub_start",
        "sub_xor",
        "noted",
        "raise",
        "sub_end",
        "sub",
        "end",
        "note_end",
    ]


def test_subprocess_completes_normally() -> None:
    run = Run(load("errors.bpmn")).start(mode="ok")
    assert run.completed == ["start", "sub_start", "sub_xor", "sub_end", "sub", "end"]


def test_event_subprocesses_timer_and_interrupting_message() -> None:
    run = Run(load("eventsub.bpmn")).start()
    run.advance(timedelta(hours=1))
    assert run.completed == ["start", "remind_start", "remind_end", "reminder"]
    assert run.task("work")
    run.message("stop")
    assert run.completed[-3:] == ["stop_start", "stopped", "stopper"]
    assert run.status == "completed"
    assert not run.tasks


def test_multi_instance_parallel_collection_and_sequential_completion_condition() -> None:
    run = Run(load("multi.bpmn")).start(reviewers=["ann", "bob"])
    assert len(run.tasks) == 2
    run.complete("review", verdict="yes")
    run.save_restore()
    run.complete("review", verdict="no")
    assert run.state.variables["verdicts"] == ["yes", "no"]
    assert run.completed == ["start", "review", "review", "vote", "vote", "vote", "end"]
    assert run.state.variables["last"] == 3


def test_terminate_end_event_cancels_the_other_branch() -> None:
    run = Run(load("terminate.bpmn")).start()
    assert run.completed == ["start", "fork", "kill"]
    assert run.status == "completed"
    assert not run.tasks
    assert not run.state.tokens


def test_an_uncaught_bpmn_error_is_an_incident() -> None:
    run = Run(load("service.bpmn")).start()
    with pytest.raises(EngineIncident, match="OTHER"):
        run.serve("reserve", error="OTHER")


def test_service_error_caught_by_its_boundary() -> None:
    run = Run(load("service.bpmn")).start().serve("reserve", error="NO_STOCK")
    assert run.completed == ["start", "no_stock", "backorder"]
