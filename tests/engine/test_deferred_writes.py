"""The engine's held-back writes on SQLite and PostgreSQL: a step's state, task and job rows, and
history lines go out together right before COMMIT, so everything a transaction wrote commits or
rolls back together, reads in the transaction see its own writes, the revision check still refuses
a stale save, and a task opened on a token whose previous task was closed in the same transaction
stays open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from isthmus.adapters.storage import Database
from isthmus.engine import HistoryLine, ProcessInstance, TaskQuery, TaskState, UserTask
from isthmus.errors import Conflict
from isthmus.jobs import JobId, JobState, NewJob

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _instance(instance_id: str = "i-1") -> ProcessInstance:
    return ProcessInstance(
        id=instance_id,
        business_key="SO-1",
        definition_key="p",
        definition_version=1,
        status="active",
        state={"v": 1, "vars": {"amount": 1, "name": "订单"}},
        schema_version=1,
        started_by="alice",
        created_at=T0,
        updated_at=T0,
    )


def _task(token: int, activity: str, instance_id: str = "i-1") -> UserTask:
    return UserTask(
        instance_id=instance_id,
        token=token,
        activation=1,
        activity_id=activity,
        name=activity,
        candidate_groups=("approver",),
        form=({"id": "ok", "type": "boolean"},),
        created_at=T0,
    )


def _line(node: str, instance_id: str = "i-1") -> HistoryLine:
    return HistoryLine(
        case_id="SO-1",
        activity=node,
        timestamp=T0,
        lifecycle="complete",
        resource="system",
        instance_id=instance_id,
        node_id=node,
        attributes={"process_key": "p", "version": 1},
    )


def test_everything_commits_together_and_reads_see_the_transactions_own_writes(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.instances.add(_instance())
        saved = uow.instances.save(_instance().with_state({"v": 1, "vars": {"amount": 2}}, "active", T0))
        saved = uow.instances.save(saved.with_state({"v": 1, "vars": {"amount": 3}}, "completed", T0))
        task = uow.user_tasks.add(_task(1, "enter"))
        uow.history.append([_line("start"), _line("enter")])
        job_ids = [uow.jobs.enqueue(NewJob(kind="engine.service", serial_key="i-1"), T0) for _ in range(3)]
        # inside the transaction: its own writes, not yet sent, are what reads return
        assert uow.instances.get("i-1") == saved
        assert [t.id for t in uow.user_tasks.find(TaskQuery(instance_id="i-1"))] == [task.id]
        assert [h.node_id for h in uow.history.for_instance("i-1")] == ["start", "enter"]
        assert {j.id for j in uow.jobs.list(JobState.READY)} == set(job_ids)
        uow.commit()
    with database.unit_of_work() as uow:
        stored = uow.instances.get("i-1")
        assert stored is not None
        assert (stored.revision, stored.status, stored.state["vars"]) == (2, "completed", {"amount": 3})
        assert stored.ended_at == T0
        got = uow.user_tasks.get(task.id)
        assert got is not None
        assert got.form == ({"id": "ok", "type": "boolean"},)
        assert len({j for j in job_ids if j is not None and uow.jobs.get(JobId(j)) is not None}) == 3


def _fail_after_adding(database: Database, instance_id: str) -> None:
    with database.unit_of_work() as uow:
        uow.instances.add(_instance(instance_id))
        raise RuntimeError("the step failed")


def test_nothing_is_written_when_the_transaction_does_not_commit(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.instances.add(_instance())
        uow.user_tasks.add(_task(1, "enter"))
        uow.history.append([_line("start")])
        uow.jobs.enqueue(NewJob(kind="engine.service", serial_key="i-1"), T0)
    with pytest.raises(RuntimeError):
        _fail_after_adding(database, "i-2")
    with database.unit_of_work() as uow:
        assert uow.instances.get("i-1") is None
        assert uow.instances.get("i-2") is None
        assert uow.user_tasks.find(TaskQuery(include_closed=True)) == []
        assert uow.history.all() == []
        assert uow.jobs.list() == []


def test_a_stale_revision_is_refused_at_commit_and_nothing_of_that_transaction_stays(
    database: Database,
) -> None:
    with database.unit_of_work() as uow:
        uow.instances.add(_instance())
        uow.commit()
    with database.unit_of_work() as uow:
        read = uow.instances.get("i-1")
    assert read is not None
    with database.unit_of_work() as uow:
        uow.instances.save(read.with_state({"v": 1, "vars": {"by": "first"}}, "active", T0))
        uow.commit()
    with database.unit_of_work() as uow:
        uow.instances.save(read.with_state({"v": 1, "vars": {"by": "second"}}, "active", T0))
        uow.history.append([_line("lost")])
        with pytest.raises(Conflict):
            uow.commit()
    with database.unit_of_work() as uow:  # the connection went back to the pool rolled back
        stored = uow.instances.get("i-1")
        assert stored is not None
        assert (stored.state["vars"], stored.revision) == ({"by": "first"}, 1)
        assert uow.history.all() == []


def test_adding_an_existing_instance_is_a_conflict(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.instances.add(_instance())
        uow.commit()
    with database.unit_of_work() as uow:
        uow.instances.add(_instance())
        with pytest.raises(Conflict):
            uow.commit()


@pytest.mark.parametrize("read_first", [True, False], ids=["task-read-first", "task-not-read"])
def test_the_next_task_of_a_token_stays_open_after_its_previous_task_closes(
    database: Database, read_first: bool
) -> None:
    with database.unit_of_work() as uow:
        first = uow.user_tasks.add(_task(7, "enter"))
        uow.commit()
    with database.unit_of_work() as uow:
        if read_first:  # completing a task reads it: the close then names its id
            assert uow.user_tasks.get(first.id) is not None
        uow.user_tasks.close("i-1", 7, TaskState.COMPLETED, "alice", T0)
        second = uow.user_tasks.add(_task(7, "approve"))  # the same token moves on to the next task
        assert uow.user_tasks.get(first.id).state is TaskState.COMPLETED  # type: ignore[union-attr]
        uow.commit()
    with database.unit_of_work() as uow:
        states = {t.activity_id: t.state for t in uow.user_tasks.find(TaskQuery(include_closed=True))}
        assert states == {"enter": TaskState.COMPLETED, "approve": TaskState.OPEN}
        assert uow.user_tasks.get(second.id) is not None


def test_a_task_opened_and_closed_in_one_transaction_ends_closed(database: Database) -> None:
    with database.unit_of_work() as uow:
        other = uow.user_tasks.add(_task(1, "other", "i-2"))
        uow.user_tasks.get(other.id)
        uow.commit()
    with database.unit_of_work() as uow:
        uow.user_tasks.get(other.id)
        uow.user_tasks.close("i-2", 1, TaskState.COMPLETED, "bob", T0)  # a close statement is used first
        task = uow.user_tasks.add(_task(3, "short"))
        uow.user_tasks.close("i-1", 3, TaskState.CANCELLED, None, T0)
        uow.commit()
    with database.unit_of_work() as uow:
        got = uow.user_tasks.get(task.id)
        assert got is not None
        assert got.state is TaskState.CANCELLED


def test_preloaded_tasks_come_with_their_instances(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.instances.add(_instance())
        tasks = [uow.user_tasks.add(_task(n, f"t{n}")) for n in (1, 2)]
        uow.commit()
    with database.unit_of_work() as uow:
        uow.user_tasks.preload([t.id for t in tasks])
        assert [uow.user_tasks.get(t.id).activity_id for t in tasks] == ["t1", "t2"]  # type: ignore[union-attr]
        instance = uow.instances.get("i-1")
        assert instance is not None
        assert instance.state["vars"]["name"] == "订单"


def test_job_ids_are_unique_across_transactions_and_the_dedupe_path(database: Database) -> None:
    seen: list[JobId | None] = []
    for round_ in range(3):
        with database.unit_of_work() as uow:
            seen += [uow.jobs.enqueue(NewJob(kind="k", serial_key=f"s{n}"), T0) for n in range(5)]
            seen.append(uow.jobs.enqueue(NewJob(kind="k", dedupe_key=f"d{round_}"), T0))
            seen += [uow.jobs.enqueue(NewJob(kind="k"), T0) for _ in range(2)]
            uow.commit()
    ids = [i for i in seen if i is not None]
    assert len(ids) == len(set(ids)) == 24
    with database.unit_of_work() as uow:
        assert sorted(j.id for j in uow.jobs.list(limit=100)) == sorted(ids)


def test_two_claims_at_once_never_take_two_jobs_of_one_serial_key(database: Database) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: claims cannot overlap")
    with database.unit_of_work() as uow:
        first = uow.jobs.enqueue(NewJob(kind="k", serial_key="instance-1", run_at=T0), T0)
        uow.commit()
    with database.unit_of_work() as one, database.unit_of_work() as two:
        assert [j.id for j in one.jobs.claim("w1", T0, 60, 1)] == [first]
        with database.unit_of_work() as uow:  # more jobs arrive while that claim is not committed
            uow.jobs.enqueue(NewJob(kind="k", serial_key="instance-1", run_at=T0), T0)
            uow.jobs.enqueue(NewJob(kind="k", serial_key="instance-2", run_at=T0), T0)
            uow.commit()
        # the first claim's job is not visible as running yet: the key's lock keeps its sibling out
        assert [j.serial_key for j in two.jobs.claim("w2", T0, 60, 10)] == ["instance-2"]
        one.commit()
        two.commit()
    with database.unit_of_work() as three:
        assert three.jobs.claim("w3", T0, 60, 10) == []  # instance-1's first job still runs


def test_one_stale_instance_among_many_fails_the_whole_commit(database: Database) -> None:
    ids = [f"i-{n}" for n in range(7)]
    with database.unit_of_work() as uow:
        for instance_id in ids:
            uow.instances.add(_instance(instance_id))
        uow.commit()
    with database.unit_of_work() as uow:
        read = [uow.instances.get(i) for i in ids]
    with database.unit_of_work() as uow:
        stale = read[3]
        assert stale is not None
        uow.instances.save(stale.with_state({"v": 1, "vars": {"by": "someone else"}}, "active", T0))
        uow.commit()
    with database.unit_of_work() as uow:
        for record in read:
            assert record is not None
            uow.instances.save(record.with_state({"v": 1, "vars": {"by": "batch"}}, "active", T0))
        with pytest.raises(Conflict):
            uow.commit()
    with database.unit_of_work() as uow:
        stored = [uow.instances.get(i) for i in ids]
        assert [s.state["vars"].get("by") if s else None for s in stored].count("batch") == 0
        assert [s.revision if s else None for s in stored] == [0, 0, 0, 1, 0, 0, 0]
