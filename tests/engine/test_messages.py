"""Message correlation by key, message and timer start events, escalation rules — through the
services on the in-memory store, with a save/restore check of every instance state after each step."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isthmus.engine import (
    Definition,
    TaskQuery,
    definition_of,
    key_text,
    load_state,
    parse_escalation,
    start_timer_due,
)
from isthmus.errors import PermissionDenied
from isthmus.models import NodeSpec, parse_bpmn
from isthmus.models._validation import _ESCALATE
from isthmus.security import SYSTEM, Role
from isthmus.services.messages import START_TIMER_JOB
from tests.engine.harness import T0
from tests.engine.test_service_flow import Engine, user


def _restores(e: Engine) -> None:
    """Every stored state survives a JSON round trip unchanged (the harness's save/restore rule)."""
    with e.uow() as uow:
        for record in uow.instances.list(limit=10_000):
            text = json.dumps(record.state, sort_keys=True)
            assert load_state(json.loads(text)).dump() == record.state


def _subscriptions(e: Engine, instance_id: str) -> list[tuple[str, str | None, str]]:
    with e.uow() as uow:
        return sorted(
            (s.message_name, s.correlation_key, s.node_id) for s in uow.messages.for_instance(instance_id)
        )


def test_a_message_reaches_only_the_instance_with_its_key(tmp_path: Path) -> None:
    e = Engine(tmp_path, "correlation.bpmn")
    a = e.engine.start(SYSTEM, "correlation", {"order_id": "SO-1"}, business_key="BK-1")
    b = e.engine.start(SYSTEM, "correlation", {"order_id": 2}, business_key="B-2")
    # the receive task, its message boundary and the event subprocess's message start
    assert _subscriptions(e, a.id) == [
        ("cancel", "SO-1", "cancelled"),
        ("note", "BK-1", "note_start"),  # no key expression: the business key
        ("shipped", "SO-1", "ship"),
    ]
    assert ("shipped", "2", "ship") in _subscriptions(e, b.id)  # whole numbers as text

    result = e.engine.publish(SYSTEM, "shipped", "SO-1", {"carrier": "SF"})
    assert result.correlated == [a.id]
    assert result.started == []
    view = e.engine.show(SYSTEM, a.id)
    assert view.completed_activities == ["start", "ship"]
    assert view.variables["carrier"] == "SF"
    assert e.engine.show(SYSTEM, b.id).completed_activities == ["start"]
    # the boundary went with its activity; the event-based gateway subscribes its message branch
    assert _subscriptions(e, a.id) == [("note", "BK-1", "note_start"), ("paid", "SO-1", "paid")]
    _restores(e)

    assert e.engine.publish(SYSTEM, "paid", "SO-2").correlated == []  # no such key
    assert e.engine.publish(SYSTEM, "paid", "SO-1").correlated == [a.id]
    assert e.engine.show(SYSTEM, a.id).state == "completed"
    assert _subscriptions(e, a.id) == []  # removed when the scope ends
    # the timer branch of the gateway is stale now
    e.clock.advance(days=2)
    e.runner.run_until_idle()
    assert e.engine.show(SYSTEM, a.id).completed_activities == ["start", "ship", "which", "paid", "end"]
    _restores(e)


def test_a_message_boundary_and_a_non_interrupting_event_subprocess(tmp_path: Path) -> None:
    e = Engine(tmp_path, "correlation.bpmn")
    a = e.engine.start(SYSTEM, "correlation", {"order_id": "SO-7"}, business_key="K7")
    assert e.engine.publish(SYSTEM, "note", "K7", {"noted": 1}).correlated == [a.id]
    assert e.engine.publish(SYSTEM, "note", "K7").correlated == [a.id]  # non-interrupting: still there
    assert e.engine.show(SYSTEM, a.id).completed_activities.count("note_end") == 2
    assert e.engine.publish(SYSTEM, "cancel", "SO-7").correlated == [a.id]
    view = e.engine.show(SYSTEM, a.id)
    assert view.state == "completed"
    assert "end_cancelled" in view.completed_activities
    assert "ship" not in view.completed_activities
    assert _subscriptions(e, a.id) == []
    _restores(e)


def test_a_message_id_makes_publishing_idempotent(tmp_path: Path) -> None:
    e = Engine(tmp_path, "message_start.bpmn")
    with e.uow() as uow:
        e.engine.starts.sync(uow, "message_start", 1, e.clock.now())
        uow.commit()
    first = e.engine.publish(SYSTEM, "order placed", "SO-9", {"amount": 5}, message_id="msg-1")
    assert len(first.started) == 1
    assert not first.duplicate
    again = e.engine.publish(SYSTEM, "order placed", "SO-9", {"amount": 5}, message_id="msg-1")
    assert again.duplicate
    assert again.started == first.started
    with e.uow() as uow:
        assert len(uow.instances.list(limit=100)) == 1
    view = e.engine.show(SYSTEM, first.started[0])
    assert view.instance.business_key == "SO-9"  # the correlation key names the case
    assert view.variables == {"amount": 5}
    assert view.completed_activities == ["placed"]
    # without an id every publish starts one more
    e.engine.publish(SYSTEM, "order placed", "SO-10")
    with e.uow() as uow:
        assert len(uow.instances.list(limit=100)) == 2


def test_a_new_version_replaces_the_message_start_of_the_previous(tmp_path: Path) -> None:
    e = Engine(tmp_path, "message_start.bpmn")
    with e.uow() as uow:
        e.engine.starts.sync(uow, "message_start", 1, e.clock.now())
        uow.commit()
    e.processes.add("message_start", (Path(__file__).parent / "data" / "message_start.bpmn").read_bytes())
    with e.uow() as uow:
        e.engine.starts.sync(uow, "message_start", 2, e.clock.now())
        assert [s.process_version for s in uow.messages.starts("order placed")] == [2]
        uow.commit()
    started = e.engine.publish(SYSTEM, "order placed").started
    assert e.engine.show(SYSTEM, started[0]).instance.definition_version == 2


def test_publishing_needs_the_start_permission(tmp_path: Path) -> None:
    e = Engine(tmp_path, "correlation.bpmn")
    with pytest.raises(PermissionDenied):
        e.engine.publish(user("viewer", Role.VIEWER), "shipped", "SO-1")


def _start_timer_jobs(e: Engine) -> list[str]:
    with e.uow() as uow:
        return sorted(j.payload["d"] for j in uow.jobs.list(None, 1000) if j.kind == START_TIMER_JOB)


def test_a_cycle_timer_start_runs_three_times_on_schedule(tmp_path: Path) -> None:
    e = Engine(tmp_path, "timer_start.bpmn")
    deployed_at = e.clock.now()
    with e.uow() as uow:
        e.engine.starts.sync(uow, "timer_start", 1, deployed_at)
        e.engine.starts.sync(uow, "timer_start", 1, deployed_at)  # idempotent
        uow.commit()
    assert len(_start_timer_jobs(e)) == 1
    e.runner.run_until_idle()
    with e.uow() as uow:
        assert uow.instances.list(limit=100) == []  # not due yet
    starts = []
    for _ in range(5):
        e.clock.advance(minutes=70)  # a late worker: the schedule still counts from the due times
        e.runner.run_until_idle()
        with e.uow() as uow:
            starts = sorted(i.created_at for i in uow.instances.list(limit=100))
    assert len(starts) == 3  # R3
    with e.uow() as uow:
        fired = sorted(j.payload["d"] for j in uow.jobs.list(None, 1000) if j.kind == START_TIMER_JOB)
    assert fired == [(deployed_at + timedelta(hours=h)).isoformat() for h in (1, 2, 3)]
    with e.uow() as uow:
        tasks = uow.user_tasks.find(TaskQuery())
    assert [t.activity_id for t in tasks] == ["report"] * 3


def test_a_new_version_replaces_the_timer_start_jobs_of_the_previous(tmp_path: Path) -> None:
    e = Engine(tmp_path, "timer_start.bpmn")
    with e.uow() as uow:
        e.engine.starts.sync(uow, "timer_start", 1, e.clock.now())
        uow.commit()
    e.clock.advance(minutes=30)
    e.processes.add("timer_start", (Path(__file__).parent / "data" / "timer_start.bpmn").read_bytes())
    with e.uow() as uow:
        e.engine.starts.sync(uow, "timer_start", 2, e.clock.now())
        uow.commit()
    e.clock.advance(minutes=31)  # version 1's first timer is due, version 2's is not
    e.runner.run_until_idle()
    with e.uow() as uow:
        assert uow.instances.list(limit=100) == []
    e.clock.advance(minutes=30)
    e.runner.run_until_idle()
    with e.uow() as uow:
        assert [i.definition_version for i in uow.instances.list(limit=100)] == [2]


def test_an_escalation_timer_reassigns_and_notifies(tmp_path: Path) -> None:
    e = Engine(tmp_path, "escalation.bpmn")
    started = e.engine.start(SYSTEM, "escalation", {}, business_key="SO-5")
    [task] = e.tasks.list(SYSTEM, instance_id=started.id)
    assert task.candidate_groups == ("clerk",)
    e.clock.advance(minutes=9)
    e.runner.run_until_idle()
    assert e.tasks.list(SYSTEM, instance_id=started.id)[0].candidate_groups == ("clerk",)
    e.clock.advance(minutes=2)
    e.runner.run_until_idle()
    [task] = e.tasks.list(SYSTEM, instance_id=started.id)
    assert task.candidate_groups == ("supervisor",)
    assert task.assignee is None
    assert "reassigned" in task.comments[-1]["text"]
    with e.uow() as uow:
        notes = uow.notifications.for_instance(started.id)
        boss = uow.notifications.for_recipients("boss", frozenset())
        supervisors = uow.notifications.for_recipients("someone", frozenset({"supervisor"}))
    assert sorted((n.recipient_kind, n.recipient) for n in notes) == [
        ("group", "supervisor"),
        ("user", "boss"),
    ]
    assert [n.task_id for n in boss] == [task.id]
    assert "SO-5" in boss[0].text
    assert len(supervisors) == 1
    view = e.engine.show(SYSTEM, started.id)
    assert view.state == "active"
    assert "late" in view.completed_activities
    _restores(e)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reassign:group:a,b", [("reassign", "group", ("a", "b"))]),
        ("reassign:x; notify:user:u", [("reassign", "group", ("x",)), ("notify", "user", ("u",))]),
        ("notify:group:g;", [("notify", "group", ("g",))]),
    ],
)
def test_escalation_rules_parse(text: str, expected: list[tuple[str, str, tuple[str, ...]]]) -> None:
    assert [(r.action, r.kind, r.targets) for r in parse_escalation(text)] == expected


@pytest.mark.parametrize("text", ["", "shout:x", "reassign:user:a,b", "notify:team:x", "notify:group:"])
def test_bad_escalation_rules_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="escalation"):
        parse_escalation(text)


def _timer_start(kind: str, text: str) -> tuple[Definition, NodeSpec]:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="s"><timerEventDefinition><{kind}>{text}</{kind}></timerEventDefinition></startEvent>
    <sequenceFlow id="f" sourceRef="s" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>""".encode()
    d = definition_of("p", 1, parse_bpmn(xml))
    return d, d.node("s")


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("timeDate", "2026-12-01T08:00:00+08:00", ["2026-12-01T00:00:00+00:00"]),
        ("timeDuration", "PT90M", ["2026-03-02T10:30:00+00:00"]),
        ("timeDuration", '=duration("PT1H")', ["2026-03-02T10:00:00+00:00"]),
        ("timeCycle", "R2/PT12H", ["2026-03-02T21:00:00+00:00", "2026-03-03T09:00:00+00:00"]),
        (
            "timeCycle",
            "R3/2026-04-01T00:00:00Z/P1D",
            ["2026-04-01T00:00:00+00:00", "2026-04-02T00:00:00+00:00", "2026-04-03T00:00:00+00:00"],
        ),
    ],
)
def test_timer_start_due_times(kind: str, text: str, expected: list[str]) -> None:
    d, node = _timer_start(kind, text)
    found: list[str] = []
    previous = None
    for fired in range(len(expected) + 2):
        due = start_timer_due(d, node, deployed_at=T0, fired=fired, previous=previous)
        if due is None:
            break
        found.append(due.astimezone(UTC).isoformat())
        previous = due
    assert found == expected


def test_migrating_an_instance_moves_its_subscriptions(tmp_path: Path) -> None:
    e = Engine(tmp_path, "correlation.bpmn")
    renamed = (
        (Path(__file__).parent / "data" / "correlation.bpmn").read_bytes().replace(b'"ship"', b'"await_ship"')
    )
    e.processes.add("correlation", renamed)
    a = e.engine.start(SYSTEM, "correlation", {"order_id": "SO-1"}, business_key="K", version=1)
    e.engine.migrate(SYSTEM, a.id, 2, {"ship": "await_ship"})
    assert ("shipped", "SO-1", "await_ship") in _subscriptions(e, a.id)
    assert e.engine.publish(SYSTEM, "shipped", "SO-1").correlated == [a.id]
    assert e.engine.show(SYSTEM, a.id).completed_activities == ["start", "await_ship"]
    _restores(e)


_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789仓库主管", min_size=1, max_size=12)
_RULE = st.tuples(
    st.sampled_from(["reassign", "notify"]),
    st.sampled_from(["user", "group"]),
    st.lists(_NAME, min_size=1, max_size=3, unique=True),
).filter(lambda r: not (r[0] == "reassign" and r[1] == "user" and len(r[2]) > 1))


@given(st.lists(_RULE, min_size=1, max_size=4), st.sampled_from([";", "; ", " ;  "]))
def test_written_escalation_rules_parse_back_and_pass_validation(
    rules: list[tuple[str, str, list[str]]], separator: str
) -> None:
    text = separator.join(f"{action}:{kind}:{','.join(names)}" for action, kind, names in rules)
    parsed = parse_escalation(text)
    assert [(r.action, r.kind, list(r.targets)) for r in parsed] == rules
    assert _ESCALATE.fullmatch(text.strip())  # deployment validation accepts what the engine runs


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_a_whole_number_key_is_the_same_text_however_it_is_typed(n: int) -> None:
    assert key_text(n) == key_text(float(n)) == key_text(Decimal(n)) == str(n)


def test_two_reassign_rules_apply_in_order(tmp_path: Path) -> None:
    e = Engine(tmp_path)
    xml = (Path(__file__).parent / "data" / "escalation.bpmn").read_bytes()
    e.processes.add(
        "escalation",
        xml.replace(
            b"reassign:group:supervisor; notify:group:supervisor; notify:user:boss",
            b"reassign:group:supervisor; reassign:user:sam",
        ),
    )
    started = e.engine.start(SYSTEM, "escalation", {})
    e.clock.advance(minutes=10)
    e.runner.run_until_idle()
    [task] = e.tasks.list(SYSTEM, instance_id=started.id)
    assert task.candidate_groups == ("supervisor",)
    assert task.assignee == "sam"
    assert [c["text"] for c in task.comments] == [
        "escalated: reassigned to group supervisor",
        "escalated: reassigned to user sam",
    ]
    with e.uow() as uow:
        assert uow.notifications.for_instance(started.id) == []
