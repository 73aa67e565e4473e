"""The in-memory database and its unit of work: real transactions without a database server.

A unit of work takes the store's lock when it begins and works on a private copy of the tables;
``commit()`` publishes that copy, and leaving ``with`` without it throws the copy away. Holding
the lock for the whole unit of work serialises units of work the way SQLite's ``BEGIN
IMMEDIATE`` does in ``adapters/storage/engine.py``: a second one waits until the first ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from isthmus.testing._memory_accounts import (
    InMemoryLoginAttemptRepository,
    InMemorySessionRepository,
    InMemoryTokenRepository,
    InMemoryUserRepository,
)
from isthmus.testing._memory_audit import InMemoryAuditRepository
from isthmus.testing._memory_catalog import InMemoryProcessRepository
from isthmus.testing._memory_decisions import InMemoryDecisionModelRepository
from isthmus.testing._memory_engine import (
    InMemoryEngineHistoryRepository,
    InMemoryProcessInstanceRepository,
    InMemoryUserTaskRepository,
)
from isthmus.testing._memory_event_logs import InMemoryEventLogRepository
from isthmus.testing._memory_integration import InMemoryFlowRepository, InMemorySystemRepository
from isthmus.testing._memory_jobs import InMemoryJobRepository
from isthmus.testing._memory_messages import InMemoryMessageRepository, InMemoryNotificationRepository
from isthmus.testing._memory_process_definitions import InMemoryProcessDefinitionRepository
from isthmus.testing._memory_tables import Tables

# As long as SQLite waits for its write lock (engine.SQLITE_BUSY_TIMEOUT_MS) before giving up.
LOCK_TIMEOUT_S = 30.0


class InMemoryStore:
    """The shared "database" of :class:`InMemoryUnitOfWork` — keep one per test or per app.

    Example:
        >>> from isthmus.testing import InMemoryStore, memory_uow_factory
        >>> store = InMemoryStore()
        >>> with memory_uow_factory(store)() as uow:
        ...     uow.audit.head() is None
        True
    """

    def __init__(self) -> None:
        self._committed = Tables()
        self._lock = threading.Lock()
        self._holder: int | None = None

    def _begin(self) -> Tables:
        if self._holder == threading.get_ident():
            # SQLite would wait for itself until its busy timeout; fail at once and say why.
            raise RuntimeError("a unit of work is already open on this thread; nested units of work deadlock")
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise TimeoutError(f"the in-memory store stayed locked for {LOCK_TIMEOUT_S} s")
        self._holder = threading.get_ident()
        return self._committed.copy()

    def _publish(self, tables: Tables) -> None:
        self._committed = tables.copy()

    def _end(self) -> None:
        self._holder = None
        self._lock.release()


class InMemoryUnitOfWork:
    """One transaction on an :class:`InMemoryStore`; satisfies ``isthmus.services.ports.UnitOfWork``.

    Example:
        >>> from isthmus.catalog import Process, ProcessId
        >>> from isthmus.testing import FakeClock, InMemoryStore, InMemoryUnitOfWork
        >>> store = InMemoryStore()
        >>> with InMemoryUnitOfWork(store) as uow:
        ...     _ = uow.processes.add(Process(id=ProcessId("P-1"), name="p"), FakeClock().now())
        ...     uow.commit()
        >>> with InMemoryUnitOfWork(store) as uow:
        ...     [p.id for p in uow.processes.all()]
        ['P-1']
    """

    processes: InMemoryProcessRepository
    users: InMemoryUserRepository
    sessions: InMemorySessionRepository
    tokens: InMemoryTokenRepository
    login_attempts: InMemoryLoginAttemptRepository
    audit: InMemoryAuditRepository
    jobs: InMemoryJobRepository
    decision_models: InMemoryDecisionModelRepository
    instances: InMemoryProcessInstanceRepository
    user_tasks: InMemoryUserTaskRepository
    history: InMemoryEngineHistoryRepository
    process_definitions: InMemoryProcessDefinitionRepository
    event_logs: InMemoryEventLogRepository
    flows: InMemoryFlowRepository
    systems: InMemorySystemRepository
    messages: InMemoryMessageRepository
    notifications: InMemoryNotificationRepository

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._tables: Tables | None = None
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        if self._tables is not None:
            raise RuntimeError("this unit of work is already open")
        tables = self._tables = self._store._begin()
        self.processes = InMemoryProcessRepository(tables)
        self.users = InMemoryUserRepository(tables)
        self.sessions = InMemorySessionRepository(tables)
        self.tokens = InMemoryTokenRepository(tables)
        self.login_attempts = InMemoryLoginAttemptRepository(tables)
        self.audit = InMemoryAuditRepository(tables)
        self.jobs = InMemoryJobRepository(tables)
        self.decision_models = InMemoryDecisionModelRepository(tables.decision_models)
        self.instances = InMemoryProcessInstanceRepository(tables.engine, tables.jobs)
        self.user_tasks = InMemoryUserTaskRepository(tables.engine)
        self.history = InMemoryEngineHistoryRepository(tables.engine)
        self.process_definitions = InMemoryProcessDefinitionRepository(tables.process_definitions)
        self.event_logs = InMemoryEventLogRepository(tables.event_logs)
        self.flows = InMemoryFlowRepository(tables.integration)
        self.systems = InMemorySystemRepository(tables.integration)
        self.messages = InMemoryMessageRepository(tables.messages)
        self.notifications = InMemoryNotificationRepository(tables.messages)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Whatever was not committed is simply forgotten with the working copy.
        self._tables = None
        self._after_commit = []
        self._store._end()

    def commit(self) -> None:
        """Make every change so far visible to later units of work, all at once."""
        if self._tables is None:
            raise RuntimeError("use the unit of work inside `with`")
        self._store._publish(self._tables)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit of work has committed (never if it is abandoned)."""
        self._after_commit.append(callback)


def memory_uow_factory(store: InMemoryStore) -> Callable[[], InMemoryUnitOfWork]:
    """A ``UnitOfWorkFactory`` on ``store``, to hand to services in place of ``Database.unit_of_work``.

    Example:
        >>> from isthmus.services.catalog import CatalogService
        >>> from isthmus.testing import FakeClock, InMemoryStore, memory_uow_factory
        >>> catalog = CatalogService(memory_uow_factory(InMemoryStore()), FakeClock())
    """
    return lambda: InMemoryUnitOfWork(store)
