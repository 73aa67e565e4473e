"""The engine's fast storage paths store and read what the plain ones do, on SQLite and PostgreSQL.

Held-back rows of one table written together take the bulk path (PostgreSQL: ``COPY``; SQLite:
``executemany``), a row alone the one-row ``INSERT``; the compiled reads (``preload``, ``get``, the
task list) decode DBAPI rows with the columns' own result processors instead of Core's result
objects. Text with tabs, backslashes, newlines and any Unicode, JSON attributes and timestamps
must come back the same whichever path wrote or read them."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from isthmus.adapters.storage import Database
from isthmus.adapters.storage.tables import process_instances
from isthmus.engine import HistoryLine, ProcessInstance, TaskQuery, TaskState, UserTask
from isthmus.errors import Conflict

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

# PostgreSQL text cannot hold NUL; surrogates are not UTF-8
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
moments = st.integers(0, 10**12).map(lambda us: T0 + timedelta(microseconds=us))
lines = st.builds(
    HistoryLine,
    case_id=texts,
    activity=texts,
    timestamp=moments,
    lifecycle=st.sampled_from(["start", "complete"]),
    resource=texts,
    system=texts,
    instance_id=st.just("x"),
    node_id=texts,
    attributes=st.dictionaries(texts, json_values, max_size=4),
)
tasks = st.builds(
    UserTask,
    instance_id=st.just("x"),
    token=st.integers(0, 2**31 - 1),
    activation=st.integers(1, 5),
    activity_id=texts,
    name=texts,
    process_key=texts,
    business_key=st.none() | texts,
    candidate_groups=st.lists(texts, max_size=3).map(tuple),
    candidate_users=st.lists(texts, max_size=3).map(tuple),
    due=st.none() | moments,
    form=st.lists(st.dictionaries(texts, json_values, max_size=3), max_size=2).map(tuple),
    four_eyes=st.booleans(),
    initiator=st.none() | texts,
    created_at=moments,
)
states = st.dictionaries(texts, json_values, max_size=5)

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _id() -> str:
    return str(uuid.uuid4())


@FEW
@given(st.lists(lines, min_size=1, max_size=20))
def test_history_lines_written_together_read_back_as_written_one_by_one(
    database: Database, written: list[HistoryLine]
) -> None:
    together, alone = _id(), _id()
    with database.unit_of_work() as uow:
        uow.history.append([replace(line, instance_id=together) for line in written])
        uow.commit()
    for line in written:
        with database.unit_of_work() as uow:
            uow.history.append([replace(line, instance_id=alone)])
            uow.commit()
    with database.unit_of_work() as uow:
        bulk = uow.history.for_instance(together)
        single = uow.history.for_instance(alone)
    assert [replace(line, instance_id="x") for line in bulk] == written
    assert [replace(line, instance_id="x") for line in single] == written


def _without_id(task: UserTask) -> UserTask:
    return replace(task, id=0, instance_id="x")


@FEW
@given(st.lists(tasks, min_size=1, max_size=12))
def test_tasks_written_together_read_back_as_written_one_by_one(
    database: Database, written: list[UserTask]
) -> None:
    together, alone = _id(), _id()
    with database.unit_of_work() as uow:
        ids = [uow.user_tasks.add(replace(task, instance_id=together)).id for task in written]
        uow.commit()
    for task in written:
        with database.unit_of_work() as uow:
            uow.user_tasks.add(replace(task, instance_id=alone))
            uow.commit()
    with database.unit_of_work() as uow:
        bulk = uow.user_tasks.find(TaskQuery(instance_id=together, limit=100))
        single = uow.user_tasks.find(TaskQuery(instance_id=alone, limit=100))
    with database.unit_of_work() as uow:
        uow.user_tasks.preload([i for i in ids if i is not None])
        preloaded = [uow.user_tasks.get(i) for i in ids if i is not None]
    with database.unit_of_work() as uow:
        one_by_one = [uow.user_tasks.get(i) for i in ids if i is not None]

    def order(found: list[UserTask]) -> list[UserTask]:
        return sorted((_without_id(t) for t in found), key=repr)

    expected = order(written)
    assert order(bulk) == expected
    assert order(single) == expected
    assert order([t for t in preloaded if t is not None]) == expected
    assert order([t for t in one_by_one if t is not None]) == expected
    assert all(t is not None and t.state is TaskState.OPEN for t in preloaded)


@FEW
@given(st.lists(st.tuples(states, st.none() | texts, moments), min_size=1, max_size=10))
def test_instances_read_by_the_compiled_path_equal_what_core_reads(
    database: Database, drafts: list[tuple[dict[str, Any], str | None, datetime]]
) -> None:
    made = [
        ProcessInstance(
            id=_id(),
            business_key=business_key,
            definition_key="p",
            definition_version=1,
            status="active",
            state=state,
            schema_version=1,
            started_by="alice",
            created_at=at,
            updated_at=at,
            ended_at=None if business_key is None else at,
        )
        for state, business_key, at in drafts
    ]
    with database.unit_of_work() as uow:
        for instance in made:
            uow.instances.add(instance)
        uow.commit()
    ids = [i.id for i in made]
    with database.unit_of_work() as uow:
        uow.instances.preload(ids)
        preloaded = [uow.instances.get(i) for i in ids]
    with database.unit_of_work() as uow:
        alone = [uow.instances.get(i) for i in ids]
    with database.engine.connect() as conn:
        rows = {
            r.id: r for r in conn.execute(select(process_instances).where(process_instances.c.id.in_(ids)))
        }
    for instance, a, b in zip(made, preloaded, alone, strict=True):
        row = rows[instance.id]
        assert a == b == instance
        assert (a.state, a.created_at, a.ended_at, a.business_key) == (
            row.data,
            row.created_at,
            row.ended_at,
            row.business_key,
        )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 80), st.data())
def test_saves_sent_together_commit_all_or_fail_on_any_stale_one(
    database: Database, count: int, data: st.DataObject
) -> None:
    stale = data.draw(st.none() | st.integers(0, count - 1))
    made = [
        ProcessInstance(
            id=_id(),
            business_key=None,
            definition_key="p",
            definition_version=1,
            status="active",
            state={"n": n},
            schema_version=1,
            started_by="alice",
            created_at=T0,
            updated_at=T0,
        )
        for n in range(count)
    ]
    with database.unit_of_work() as uow:
        for instance in made:
            uow.instances.add(instance)
        uow.commit()
    if stale is not None:  # someone else saves it first
        with database.unit_of_work() as uow:
            uow.instances.save(made[stale])
            uow.commit()
    with database.unit_of_work() as uow:
        for instance in made:
            uow.instances.save(replace(instance, state={"n": -1}))
        if stale is None:
            uow.commit()
        else:
            with pytest.raises(Conflict):
                uow.commit()
    with database.unit_of_work() as uow:
        stored = [uow.instances.get(i.id) for i in made]
    if stale is None:
        assert all(s is not None and s.state == {"n": -1} and s.revision == 1 for s in stored)
    else:
        assert [s.state if s else None for s in stored] == [{"n": n} for n in range(count)]
