"""One contract suite for the storage ports, run on the in-memory fakes, SQLite and PostgreSQL.

Every test takes ``uow_factory`` and so runs once per back end; where a SQL adapter breaks the
contract documented in ``services/ports.py`` the test states the contract and is marked
``xfail(strict=True)`` on that back end only, so a fix turns the run red until the mark goes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from shutil import copyfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from isthmus.adapters.storage import Database, normalise_url
from isthmus.adapters.storage.tables import metadata
from isthmus.catalog import Priority, PriorityScores, Process, ProcessId, ProcessQuery, SortField, write_csv
from isthmus.decisions import ModelDraft, prepare_model
from isthmus.errors import Conflict, NotFound
from isthmus.jobs import JobId, JobState, NewJob
from isthmus.security import SYSTEM, ApiToken, AuditEvent, Role, User, UserId, WebSession, verify_chain
from isthmus.services.catalog import CatalogService
from isthmus.services.ports import UnitOfWork, UnitOfWorkFactory
from isthmus.testing import FakeClock, InMemoryStore, memory_uow_factory
from tests.conftest import _fresh_pg_database

T0 = FakeClock().now()
BACKENDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


# --- back ends ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied per test: migrating once keeps the suite fast."""
    path = tmp_path_factory.mktemp("template") / "isthmus.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database(pg_server: str | None) -> Iterator[str | None]:
    """One migrated PostgreSQL database for the session, emptied before each test (see below)."""
    if pg_server is None:
        yield None
        return
    for url in _fresh_pg_database(pg_server):
        database = Database(url)
        database.upgrade()
        database.dispose()
        yield url


def _emptied_pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    url: str | None = request.getfixturevalue("pg_database")
    if url is None:
        if os.environ.get("ISTHMUS_REQUIRE_PG"):
            pytest.fail("ISTHMUS_REQUIRE_PG is set but no PostgreSQL could be started")
        pytest.skip("no PostgreSQL available (set ISTHMUS_TEST_PG_URL or install postgresql-15)")
    # TRUNCATE … RESTART IDENTITY takes milliseconds where CREATE DATABASE takes half a second,
    # and gives every test empty tables whose ids start at 1 again.
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        # Back to the state migration 0001 leaves: the audit head row exists from the start.
        conn.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :genesis)"), {"genesis": "0" * 64}
        )
    engine.dispose()
    yield url


@pytest.fixture(params=BACKENDS)
def uow_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
    """A factory of units of work on an empty, migrated store of each back end."""
    if request.param == "memory":
        yield memory_uow_factory(InMemoryStore())
        return
    if request.param == "sqlite":
        path = tmp_path / "isthmus.db"
        copyfile(request.getfixturevalue("sqlite_template"), path)
        urls: Iterator[str] = iter([f"sqlite:///{path}"])
    else:
        urls = _emptied_pg_database(request)
    for url in urls:
        database = Database(url)
        try:
            yield database.unit_of_work
        finally:
            database.dispose()


def _xfail_on(request: pytest.FixtureRequest, backend: str, reason: str) -> None:
    if request.node.callspec.params["uow_factory"] == backend:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def _process(pid: str, name: str = "", **changes: object) -> Process:
    return Process(id=ProcessId(pid), name=name or pid.lower()).with_changes(**changes)


def _in_other_thread(work: Callable[[], object]) -> Callable[[], object]:
    """Start ``work`` now; the returned function joins it and returns its result or raises its error."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed back to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()

    def join() -> object:
        thread.join(timeout=30)
        assert outcome, "the other unit of work never finished"
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    return join


def test_the_fake_satisfies_the_port_statically() -> None:
    factory: UnitOfWorkFactory = memory_uow_factory(InMemoryStore())
    uow: UnitOfWork = factory()
    assert uow is not None


# --- transactions ---------------------------------------------------------------------------------


def _write_everywhere(uow: UnitOfWork) -> None:
    uow.processes.add(_process("P-01"), T0)
    uow.users.add(User(id=None, username="alice"), T0)
    uow.audit.append(AuditEvent(actor="a", action="x", object_type="t", object_id="1", at=T0))
    uow.jobs.enqueue(NewJob(kind="k"), T0)
    uow.login_attempts.record("alice", "127.0.0.1", False, T0)


def _nothing_stored(uow: UnitOfWork) -> bool:
    return (
        uow.processes.all() == []
        and uow.users.list() == []
        and uow.audit.head() is None
        and uow.jobs.list() == []
        and uow.login_attempts.failures_since(username="alice", address="127.0.0.1", since=T0) == (0, 0)
    )


def test_leaving_without_commit_rolls_everything_back(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        _write_everywhere(uow)
        assert uow.processes.get(ProcessId("P-01")) is not None  # the transaction sees its own work
    with uow_factory() as uow:
        assert _nothing_stored(uow)


def test_an_exception_rolls_back_and_propagates(uow_factory: UnitOfWorkFactory) -> None:
    def fail_midway() -> None:
        with uow_factory() as uow:
            _write_everywhere(uow)
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        fail_midway()
    with uow_factory() as uow:
        assert _nothing_stored(uow)


def test_commit_makes_every_change_visible_and_later_work_needs_its_own_commit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        _write_everywhere(uow)
        uow.commit()
        uow.processes.add(_process("P-02"), T0)  # after the commit, not committed itself
    with uow_factory() as uow:
        assert [p.id for p in uow.processes.all()] == ["P-01"]
        assert [u.username for u in uow.users.list()] == ["alice"]
        assert uow.audit.head() is not None
        assert len(uow.jobs.list()) == 1
        assert uow.login_attempts.failures_since(username="alice", address="-", since=T0) == (1, 0)


def test_concurrent_read_modify_write_never_loses_an_update(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.processes.add(_process("P-01", key_nodes=0), T0)
        uow.audit.append(AuditEvent(actor="a", action="seed", object_type="t", object_id="0", at=T0))
        uow.commit()

    def bump(worker: int) -> None:
        while True:  # PostgreSQL lets both read; the loser gets Conflict and retries
            try:
                with uow_factory() as uow:
                    current = uow.processes.get(ProcessId("P-01"))
                    assert current is not None
                    uow.processes.update(current.with_changes(key_nodes=current.key_nodes + 1), T0)
                    uow.audit.append(
                        AuditEvent(actor=f"w{worker}", action="bump", object_type="t", object_id="1", at=T0)
                    )
                    uow.commit()
                    return
            except Conflict:
                continue

    threads = [threading.Thread(target=bump, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with uow_factory() as uow:
        stored = uow.processes.get(ProcessId("P-01"))
        assert stored is not None
        assert (stored.key_nodes, stored.version) == (4, 5)
        assert verify_chain(uow.audit.records(), uow.audit.head()) == (5, None)


def test_concurrent_first_audit_appends_are_serialised(
    uow_factory: UnitOfWorkFactory, request: pytest.FixtureRequest
) -> None:

    def event(n: int) -> AuditEvent:
        return AuditEvent(actor="a", action="x", object_type="t", object_id=str(n), at=T0)

    def second() -> object:
        with uow_factory() as uow:
            uow.audit.append(event(2))
            uow.commit()
        return None

    with uow_factory() as uow:
        uow.audit.append(event(1))
        join = _in_other_thread(second)
        time.sleep(0.2)  # let the other append reach the head before this one commits
        uow.commit()
    join()
    with uow_factory() as uow:
        assert verify_chain(uow.audit.records(), uow.audit.head()) == (2, None)


@pytest.mark.parametrize("what", ["process", "user"])
def test_concurrent_duplicates_are_a_conflict(
    uow_factory: UnitOfWorkFactory, request: pytest.FixtureRequest, what: str
) -> None:

    def add(uow: UnitOfWork) -> None:
        if what == "process":
            uow.processes.add(_process("P-01"), T0)
        else:
            uow.users.add(User(id=None, username="alice"), T0)

    def second() -> object:
        with uow_factory() as uow:
            add(uow)
            uow.commit()
        return None

    with uow_factory() as uow:
        add(uow)
        join = _in_other_thread(second)
        time.sleep(0.2)
        uow.commit()
    with pytest.raises(Conflict):
        join()


# --- processes ------------------------------------------------------------------------------------


def test_process_add_get_all_and_duplicate_ids(uow_factory: UnitOfWorkFactory) -> None:
    full = _process(
        "P-02",
        "订单",
        department="销售部",
        system_support="CRM",
        owner="张*",
        roles=("销售专员", "财务专员"),
        key_nodes=5,
        avg_hours=Decimal("1.50"),
        pain_points=("慢",),
        priority=Priority.HIGH,
        priority_manual=False,
        scores=PriorityScores(value=5, pain=4, ease=3),
    )
    with uow_factory() as uow:
        added = uow.processes.add(full, T0)
        uow.processes.add(_process("P-01"), T0)
        uow.commit()
    assert (added.version, added.created_at, added.updated_at) == (1, T0, T0)
    with uow_factory() as uow:
        stored = uow.processes.get(ProcessId("P-02"))
        assert stored == full
        assert stored is not None
        assert (stored.created_at, stored.updated_at, stored.avg_hours) == (T0, T0, Decimal("1.5"))
        assert [p.id for p in uow.processes.all()] == ["P-01", "P-02"]
        assert uow.processes.get(ProcessId("P-03")) is None
        with pytest.raises(Conflict, match="already exists"):
            uow.processes.add(_process("P-01"), T0)


def test_process_update_checks_the_version(uow_factory: UnitOfWorkFactory) -> None:
    later = T0 + timedelta(hours=1)
    with uow_factory() as uow:
        uow.processes.add(_process("P-01"), T0)
        uow.commit()
    with uow_factory() as uow:
        current = uow.processes.get(ProcessId("P-01"))
        assert current is not None
        saved = uow.processes.update(current.with_changes(owner="李*", roles=("a",)), later)
        assert (saved.version, saved.updated_at) == (2, later)
        with pytest.raises(Conflict, match="changed by someone else"):
            uow.processes.update(current.with_changes(owner="王*"), later)
        with pytest.raises(NotFound):
            uow.processes.update(_process("P-09"), later)
        uow.commit()
    with uow_factory() as uow:
        stored = uow.processes.get(ProcessId("P-01"))
        assert stored is not None
        assert (stored.owner, stored.roles, stored.version) == ("李*", ("a",), 2)
        assert (stored.created_at, stored.updated_at) == (T0, later)


def test_process_delete(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.processes.add(_process("P-01"), T0)
        uow.processes.delete(ProcessId("P-01"))
        assert uow.processes.get(ProcessId("P-01")) is None
        with pytest.raises(NotFound):
            uow.processes.delete(ProcessId("P-01"))


def _seed_catalog(uow: UnitOfWork) -> None:
    rows = [
        _process("P-01", "alpha", department="sales", owner="ann", priority=Priority.LOW, key_nodes=3),
        _process("P-02", "bravo", department="sales", owner="bob", priority=Priority.HIGH, key_nodes=1),
        _process("P-03", "charlie", department="buy", owner="ann", priority=Priority.MEDIUM, key_nodes=3),
        _process("P-04", "delta", department="buy", owner="cid", priority=Priority.HIGH, key_nodes=2),
        _process(
            "P-05", "echo", roles=("Clerk 100%",), pain_points=("Slow_Approval",), priority=Priority.LOW
        ),
    ]
    for row in rows:
        uow.processes.add(row.with_changes(avg_hours=Decimal(row.key_nodes) / 2), T0)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("p-03", ["P-03"]),  # id
        ("  BRAVO ", ["P-02"]),  # name, trimmed, any case
        ("SALES", ["P-01", "P-02"]),  # department
        ("Cid", ["P-04"]),  # owner
        ("clerk", ["P-05"]),  # roles
        ("slow_approval", ["P-05"]),  # pain points; "_" is a literal, not a LIKE wildcard
        ("100%", ["P-05"]),  # "%" is a literal too
        ("1_0", []),
        ("", ["P-01", "P-02", "P-03", "P-04", "P-05"]),
    ],
)
def test_process_search_is_case_insensitive_over_the_documented_fields(
    uow_factory: UnitOfWorkFactory, search: str, expected: list[str]
) -> None:
    with uow_factory() as uow:
        _seed_catalog(uow)
        found, total = uow.processes.query(ProcessQuery(search=search))
    assert ([p.id for p in found], total) == (expected, len(expected))


def test_process_search_folds_non_ascii_case(
    uow_factory: UnitOfWorkFactory, request: pytest.FixtureRequest
) -> None:
    with uow_factory() as uow:
        uow.processes.add(_process("P-01", "Ärger im Einkauf"), T0)
        assert uow.processes.query(ProcessQuery(search="ärger"))[1] == 1


def test_process_filters_and_paging(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        _seed_catalog(uow)
        query = uow.processes.query
        assert query(ProcessQuery(department="sales"))[1] == 2
        assert [p.id for p in query(ProcessQuery(owner="ann"))[0]] == ["P-01", "P-03"]
        assert [p.id for p in query(ProcessQuery(priority=Priority.HIGH))[0]] == ["P-02", "P-04"]
        assert [p.id for p in query(ProcessQuery(department="buy", owner="ann"))[0]] == ["P-03"]
        page, total = query(ProcessQuery(limit=2, offset=1))
        assert ([p.id for p in page], total) == (["P-02", "P-03"], 5)
        assert query(ProcessQuery(limit=2, offset=10)) == ([], 5)


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        (SortField.ID, True, ["P-05", "P-04", "P-03", "P-02", "P-01"]),
        (SortField.NAME, True, ["P-05", "P-04", "P-03", "P-02", "P-01"]),
        (SortField.DEPARTMENT, False, ["P-05", "P-03", "P-04", "P-01", "P-02"]),
        (SortField.OWNER, False, ["P-05", "P-01", "P-03", "P-02", "P-04"]),
        (SortField.KEY_NODES, False, ["P-05", "P-02", "P-04", "P-01", "P-03"]),
        (SortField.KEY_NODES, True, ["P-01", "P-03", "P-04", "P-02", "P-05"]),  # ties stay by id
        (SortField.AVG_HOURS, True, ["P-01", "P-03", "P-04", "P-02", "P-05"]),
        (SortField.PRIORITY, False, ["P-02", "P-04", "P-03", "P-01", "P-05"]),  # high → medium → low
        (SortField.PRIORITY, True, ["P-01", "P-05", "P-03", "P-02", "P-04"]),
    ],
)
def test_process_sorting(
    uow_factory: UnitOfWorkFactory, sort: SortField, descending: bool, expected: list[str]
) -> None:
    with uow_factory() as uow:
        _seed_catalog(uow)
        found, _ = uow.processes.query(ProcessQuery(sort=sort, descending=descending))
    assert [p.id for p in found] == expected


# --- accounts -------------------------------------------------------------------------------------


def test_users_get_ids_in_order_and_unique_names(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        added = [
            uow.users.add(User(id=None, username=name, roles=frozenset({Role.ADMIN})), T0)
            for name in ("carol", "alice", "bob")
        ]
        uow.commit()
    assert [u.id for u in added] == [1, 2, 3]
    assert (added[0].created_at, added[0].roles) == (T0, frozenset({Role.ADMIN}))
    with uow_factory() as uow:
        assert uow.users.get(UserId(2)) == added[1]
        assert uow.users.by_name("bob") == added[2]
        assert uow.users.by_name("Bob") is None
        assert uow.users.get(UserId(9)) is None
        assert [u.username for u in uow.users.list()] == ["alice", "bob", "carol"]
        with pytest.raises(Conflict):
            uow.users.add(User(id=None, username="alice"), T0)


def test_user_update_keeps_name_and_creation_time(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        user = uow.users.add(User(id=None, username="alice"), T0)
        changed = User(
            id=user.id,
            username="mallory",
            display_name="Alice A.",
            roles=frozenset({Role.ADMIN}),
            password_hash="h",
            active=False,
            language="en",
            created_at=T0 + timedelta(days=1),
        )
        uow.users.update(changed)
        uow.users.update(User(id=UserId(99), username="ghost"))  # an unknown id changes nothing
        stored = uow.users.get(UserId(1))
        assert stored is not None
        assert (stored.username, stored.created_at) == ("alice", T0)
        assert (stored.display_name, stored.roles, stored.active, stored.language) == (
            "Alice A.",
            frozenset({Role.ADMIN}),
            False,
            "en",
        )
        assert stored.password_hash == "h"
        assert len(uow.users.list()) == 1


def test_sessions(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        alice = uow.users.add(User(id=None, username="alice"), T0).id
        bob = uow.users.add(User(id=None, username="bob"), T0).id
        assert alice is not None
        assert bob is not None
        for digest, user in (("s1", alice), ("s2", alice), ("s3", bob)):
            uow.sessions.add(
                WebSession(digest=digest, user_id=user, csrf_token="c", created_at=T0, last_seen_at=T0)
            )
        uow.sessions.touch("s1", T0 + timedelta(minutes=5))
        s1 = uow.sessions.get("s1")
        assert s1 is not None
        assert (s1.user_id, s1.csrf_token, s1.created_at, s1.last_seen_at) == (
            alice,
            "c",
            T0,
            T0 + timedelta(minutes=5),
        )
        uow.sessions.delete("s3")
        assert uow.sessions.get("s3") is None
        uow.sessions.delete_for_user(alice)
        assert (uow.sessions.get("s1"), uow.sessions.get("s2")) == (None, None)
        uow.sessions.touch("nope", T0)
        uow.sessions.delete("nope")


def test_api_tokens(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        alice = uow.users.add(User(id=None, username="alice"), T0).id
        bob = uow.users.add(User(id=None, username="bob"), T0).id
        assert alice is not None
        assert bob is not None
        expires = T0 + timedelta(days=30)
        first = uow.tokens.add(ApiToken(id=None, user_id=alice, name="ci", digest="d1", created_at=T0))
        uow.tokens.add(ApiToken(id=None, user_id=bob, name="x", digest="d2", created_at=T0))
        third = uow.tokens.add(
            ApiToken(id=None, user_id=alice, name="cd", digest="d3", created_at=T0, expires_at=expires)
        )
        assert (first.id, third.id, first.last_used_at, first.revoked) == (1, 3, None, False)
        assert uow.tokens.by_digest("d3") == third
        assert uow.tokens.by_digest("nope") is None
        assert first.id is not None
        assert third.id is not None
        uow.tokens.mark_used(first.id, T0 + timedelta(hours=1))
        uow.tokens.revoke(third.id)
        mine = uow.tokens.for_user(alice)
        assert [t.name for t in mine] == ["ci", "cd"]
        assert (mine[0].last_used_at, mine[0].revoked) == (T0 + timedelta(hours=1), False)
        assert (mine[1].expires_at, mine[1].revoked) == (expires, True)


def test_login_attempts_count_failures_since(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        record = uow.login_attempts.record
        record("alice", "10.0.0.1", False, T0 - timedelta(minutes=1))  # before the window
        record("alice", "10.0.0.1", False, T0)  # `since` is inclusive
        record("alice", "10.0.0.2", False, T0 + timedelta(minutes=1))
        record("bob", "10.0.0.1", False, T0 + timedelta(minutes=1))
        record("alice", "10.0.0.1", True, T0 + timedelta(minutes=2))  # successes do not count
        record("x" * 300, "y" * 100, False, T0)  # longer than the columns: truncated
        failures = uow.login_attempts.failures_since
        assert failures(username="alice", address="10.0.0.1", since=T0) == (2, 2)
        assert failures(username="x" * 200, address="y" * 64, since=T0) == (1, 1)


# --- audit ----------------------------------------------------------------------------------------


def _event(
    n: int, *, actor: str = "alice", action: str = "catalog.update", object_id: str = "P-01"
) -> AuditEvent:
    return AuditEvent(
        actor=actor,
        action=action,
        object_type="process",
        object_id=object_id,
        before={"n": n - 1},
        after={"n": n, "roles": ("a", "b")},
        at=T0 + timedelta(minutes=n),
    )


def test_audit_appends_chain_and_move_the_head(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.audit.head() is None
        assert verify_chain(uow.audit.records(), None) == (0, None)
        appended = [uow.audit.append(_event(n)) for n in (1, 2, 3)]
        uow.commit()
    with uow_factory() as uow:
        uow.audit.append(_event(4))  # rolled back: the head stays
    with uow_factory() as uow:
        records = list(uow.audit.records())
        assert [r.seq for r in records] == [1, 2, 3]
        assert [r.hash for r in records] == [r.hash for r in appended]
        assert uow.audit.head() == (3, appended[-1].hash)
        assert verify_chain(records, uow.audit.head()) == (3, None)
        assert records[0].event.after == {"n": 1, "roles": ["a", "b"]}  # what JSON gives back
        assert records[0].event.at == T0 + timedelta(minutes=1)


def test_audit_search_filters_newest_first(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.audit.append(_event(1, action="catalog.create"))
        uow.audit.append(_event(2, actor="bob"))
        uow.audit.append(_event(3, object_id="P-02"))
        uow.audit.append(_event(4, action="catalog_update"))  # "_" is no wildcard in the prefix
        uow.audit.append(_event(5, action="job.retry"))
        search = uow.audit.search

        def seqs(**filters: object) -> tuple[list[int], int]:
            found, total = search(**filters)  # type: ignore[arg-type]
            return [r.seq for r in found], total

        assert seqs() == ([5, 4, 3, 2, 1], 5)
        assert seqs(action="catalog.") == ([3, 2, 1], 3)
        assert seqs(actor="bob") == ([2], 1)
        assert seqs(object_type="process", object_id="P-02") == ([3], 1)
        assert seqs(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)) == ([3, 2], 2)
        assert seqs(limit=2, offset=1) == ([4, 3], 5)


# --- jobs -----------------------------------------------------------------------------------------


def _enqueue(uow_factory: UnitOfWorkFactory, *jobs: NewJob) -> list[JobId | None]:
    with uow_factory() as uow:
        ids = [uow.jobs.enqueue(job, T0) for job in jobs]
        uow.commit()
    return ids


def test_enqueue_defaults_and_dedupe(uow_factory: UnitOfWorkFactory) -> None:
    ids = _enqueue(
        uow_factory,
        NewJob(kind="a", payload={"x": [1, 2]}),
        NewJob(kind="b", dedupe_key="once"),
        NewJob(kind="b", dedupe_key="once"),
        NewJob(kind="c", run_at=T0 + timedelta(hours=1), serial_key="s"),
    )
    assert ids == [1, 2, None, 3]
    with uow_factory() as uow:
        job = uow.jobs.get(JobId(1))
        assert job is not None
        assert (job.kind, job.payload, job.state, job.attempts, job.max_attempts) == (
            "a",
            {"x": [1, 2]},
            JobState.READY,
            0,
            4,
        )
        assert (job.run_at, job.created_at, job.locked_by, job.last_error) == (T0, T0, None, None)
        assert uow.jobs.get(JobId(9)) is None
        (claimed,) = uow.jobs.claim("w1", T0, 60, 10)[1:]
        assert uow.jobs.complete(claimed.id, "w1", T0)
        # once a key was used, it stays used — even after that job is done
        assert uow.jobs.enqueue(NewJob(kind="b", dedupe_key="once"), T0) is None


def test_claim_takes_due_jobs_in_order_under_a_lease(uow_factory: UnitOfWorkFactory) -> None:
    _enqueue(
        uow_factory,
        NewJob(kind="late", run_at=T0 + timedelta(minutes=10)),
        NewJob(kind="second", run_at=T0 - timedelta(minutes=1)),
        NewJob(kind="first", run_at=T0 - timedelta(minutes=2)),
        NewJob(kind="third"),
    )
    with uow_factory() as uow:
        claimed = uow.jobs.claim("w1", T0, 60, 2)
        assert [(j.kind, j.state, j.attempts, j.locked_by) for j in claimed] == [
            ("first", JobState.RUNNING, 1, "w1"),
            ("second", JobState.RUNNING, 1, "w1"),
        ]
        assert [j.kind for j in uow.jobs.claim("w2", T0, 60, 10)] == ["third"]
        assert uow.jobs.claim("w3", T0, 60, 10) == []  # running under live leases, "late" not due
        uow.commit()
    with uow_factory() as uow:
        # leases of 60 s have run out by then: the running jobs are claimable again, by run_at
        assert [j.kind for j in uow.jobs.claim("w3", T0 + timedelta(minutes=10), 60, 10)] == [
            "first",
            "second",
            "third",
            "late",
        ]


def test_serial_keys_run_one_at_a_time(uow_factory: UnitOfWorkFactory) -> None:
    _enqueue(
        uow_factory,
        NewJob(kind="a1", serial_key="a"),
        NewJob(kind="a2", serial_key="a"),
        NewJob(kind="b1", serial_key="b"),
        NewJob(kind="free"),
    )
    with uow_factory() as uow:
        first = uow.jobs.claim("w1", T0, 60, 10)
        assert [j.kind for j in first] == ["a1", "b1", "free"]  # one job per serial key per claim
        assert uow.jobs.claim("w2", T0, 60, 10) == []  # "a" is busy while a1 runs
        assert uow.jobs.complete(first[0].id, "w1", T0)
        assert [j.kind for j in uow.jobs.claim("w2", T0, 60, 10)] == ["a2"]


_JOB = st.tuples(
    st.integers(-5, 5),  # run_at, minutes from T0
    st.sampled_from([None, None, "a", "b"]),  # serial key
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    jobs=st.lists(_JOB, min_size=1, max_size=14),
    first=st.integers(0, 6),
    later_s=st.sampled_from([0, 30, 61, 400]),
    second=st.integers(1, 8),
    only=st.none() | st.sets(st.integers(0, 13), max_size=6),
)
def test_claims_choose_the_jobs_the_model_chooses(
    uow_factory: UnitOfWorkFactory,
    jobs: list[tuple[int, str | None]],
    first: int,
    later_s: int,
    second: int,
    only: set[int] | None,
) -> None:
    """Any mix of due, future, running and expired jobs, with serial keys: a claim, then a second
    one (maybe after the leases ran out, maybe of some kinds only) takes what the in-memory model
    takes, in the same order (PostgreSQL reads ready and expired jobs by separate index scans)."""

    def claims(factory: UnitOfWorkFactory) -> list[list[str]]:
        with factory() as uow:
            for n, (minutes, serial) in enumerate(jobs):
                uow.jobs.enqueue(
                    NewJob(kind=f"j{n}", run_at=T0 + timedelta(minutes=minutes), serial_key=serial), T0
                )
            uow.commit()
        taken: list[list[str]] = []
        later = T0 + timedelta(seconds=later_s)
        kinds = () if only is None else tuple(f"j{n}" for n in sorted(only))
        with factory() as uow:
            taken.append([j.kind for j in uow.jobs.claim("w1", T0, 60, first)] if first else [])
            uow.commit()
        with factory() as uow:
            taken.append([j.kind for j in uow.jobs.claim("w2", later, 60, second, kinds=kinds)])
            uow.commit()
        with factory() as uow:  # leave nothing due for the next example
            while rest := uow.jobs.claim("cleanup", T0 + timedelta(days=1), 60, 100):
                assert uow.jobs.complete_many([j.id for j in rest], "cleanup", T0)
            uow.commit()
        return taken

    assert claims(uow_factory) == claims(memory_uow_factory(InMemoryStore()))


def test_a_lost_lease_refuses_the_old_workers_outcome(uow_factory: UnitOfWorkFactory) -> None:
    _enqueue(uow_factory, NewJob(kind="a", serial_key="s"), NewJob(kind="b", serial_key="s"))
    expired = T0 + timedelta(seconds=61)
    with uow_factory() as uow:
        (job,) = uow.jobs.claim("w1", T0, 60, 10)
        (again,) = uow.jobs.claim("w2", expired, 60, 10)  # w1 stalled past its lease
        assert (again.id, again.attempts, again.locked_by) == (job.id, 2, "w2")
        assert not uow.jobs.complete(job.id, "w1", expired)
        assert not uow.jobs.reschedule(job.id, "w1", error="e", run_at=expired, now=expired)
        assert not uow.jobs.give_up(job.id, "w1", error="e", now=expired)
        assert uow.jobs.complete(job.id, "w2", expired)
        assert not uow.jobs.complete(job.id, "w2", expired)  # no longer running
        done = uow.jobs.get(job.id)
        assert done is not None
        assert (done.state, done.locked_by, done.updated_at) == (JobState.DONE, None, expired)


def test_reschedule_give_up_and_retry(uow_factory: UnitOfWorkFactory) -> None:
    (job_id, other) = _enqueue(uow_factory, NewJob(kind="a"), NewJob(kind="b", run_at=T0 + timedelta(days=1)))
    assert job_id is not None
    assert other is not None
    later = T0 + timedelta(minutes=5)
    with uow_factory() as uow:
        uow.jobs.claim("w1", T0, 60, 1)
        assert uow.jobs.reschedule(job_id, "w1", error="x" * 5000, run_at=later, now=T0)
        job = uow.jobs.get(job_id)
        assert job is not None
        assert (job.state, job.run_at, job.last_error, job.attempts) == (JobState.READY, later, "x" * 4000, 1)
        assert uow.jobs.next_due() == later
        assert uow.jobs.claim("w1", later, 60, 1)[0].attempts == 2
        assert uow.jobs.give_up(job_id, "w1", error="boom", now=later)
        with pytest.raises(Conflict):
            uow.jobs.retry(other, later)  # ready, not an incident
        with pytest.raises(NotFound):
            uow.jobs.retry(JobId(99), later)
        retried = uow.jobs.retry(job_id, later + timedelta(minutes=1))
        assert (retried.state, retried.attempts, retried.run_at) == (
            JobState.READY,
            0,
            later + timedelta(minutes=1),
        )


def test_job_list_counts_and_next_due(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert (uow.jobs.next_due(), uow.jobs.counts(), uow.jobs.list()) == (None, {}, [])
    _enqueue(uow_factory, *(NewJob(kind=f"k{i}", run_at=T0 + timedelta(minutes=i)) for i in range(5)))
    with uow_factory() as uow:
        (claimed,) = uow.jobs.claim("w1", T0 + timedelta(minutes=1), 60, 1)
        uow.jobs.give_up(claimed.id, "w1", error="e", now=T0)
        uow.jobs.claim("w1", T0 + timedelta(minutes=1), 60, 1)
        assert [j.id for j in uow.jobs.list()] == [5, 4, 3, 2, 1]
        assert [j.id for j in uow.jobs.list(limit=2)] == [5, 4]
        assert [j.id for j in uow.jobs.list(JobState.READY)] == [5, 4, 3]
        assert uow.jobs.counts() == {JobState.READY: 3, JobState.INCIDENT: 1, JobState.RUNNING: 1}
        assert uow.jobs.next_due() == T0 + timedelta(minutes=2)


# --- decision models ------------------------------------------------------------------------------

DEMO_DECISIONS = Path(__file__).parents[2] / "src" / "isthmus" / "demo" / "decisions"


def _draft(name: str, edit: str = "") -> ModelDraft:
    content = (DEMO_DECISIONS / name).read_bytes()
    return prepare_model(content.replace(b"</definitions>", f"<!-- {edit} --></definitions>".encode()), name)[
        0
    ]


def test_decision_models_are_versioned_per_key(uow_factory: UnitOfWorkFactory) -> None:
    approval, phone = _draft("tiered-approval.dmn"), _draft("phone-validation.dmn")
    with uow_factory() as uow:
        models = uow.decision_models
        first = models.add(approval, deployed_by="owner", now=T0)
        assert (first.key, first.version, first.deployed_at) == ("tiered_approval", 1, T0)
        assert models.add(approval, deployed_by="other", now=T0) == first  # same content: idempotent
        edited = models.add(_draft("tiered-approval.dmn", "edited"), deployed_by="expert", now=T0)
        models.add(phone, deployed_by="owner", now=T0)
        uow.commit()
    with uow_factory() as uow:
        uow.decision_models.add(approval, deployed_by="owner", now=T0)  # v3, rolled back
    with uow_factory() as uow:
        models = uow.decision_models
        assert [m.version for m in models.versions("tiered_approval")] == [1, 2]
        assert models.get("tiered_approval", 2) == edited
        assert (models.get("tiered_approval", 3), models.latest("nope"), models.versions("nope")) == (
            None,
            None,
            [],
        )
        assert [(m.key, m.version) for m in models.list_latest()] == [
            ("phone_validation_model", 1),
            ("tiered_approval", 2),
        ]


# --- services on the fake -------------------------------------------------------------------------


def test_catalog_service_runs_on_the_fake() -> None:
    store = InMemoryStore()
    factory: UnitOfWorkFactory = memory_uow_factory(store)
    catalog = CatalogService(factory, FakeClock())
    created = catalog.create(SYSTEM, _process("P-01", "订单", avg_hours=Decimal(8)))
    catalog.update(SYSTEM, created.with_changes(owner="张*"))
    with pytest.raises(Conflict):
        catalog.update(SYSTEM, created.with_changes(owner="李*"))
    data = write_csv(
        [catalog.get(SYSTEM, "P-01").with_changes(avg_hours=Decimal(4)), _process("P-02", "采购")], "zh_CN"
    )
    report = catalog.import_file(SYSTEM, data, "table1.csv")
    assert (report.created, report.updated) == (["P-02"], ["P-01"])
    assert [(p.id, p.version) for p in catalog.all(SYSTEM)] == [("P-01", 3), ("P-02", 1)]
    with factory() as uow:
        assert verify_chain(uow.audit.records(), uow.audit.head()) == (5, None)
