"""A unit of work on one SQL connection and transaction, and the database handle that makes them."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from isthmus.adapters.storage import migrate
from isthmus.adapters.storage.accounts import (
    SqlLoginAttemptRepository,
    SqlSessionRepository,
    SqlTokenRepository,
    SqlUserRepository,
)
from isthmus.adapters.storage.audit import SqlAuditRepository
from isthmus.adapters.storage.catalog import SqlProcessRepository
from isthmus.adapters.storage.decision_models import SqlDecisionModelRepository
from isthmus.adapters.storage.engine import make_engine
from isthmus.adapters.storage.event_logs import SqlEventLogRepository
from isthmus.adapters.storage.integration import SqlFlowRepository
from isthmus.adapters.storage.job_queue import SqlJobRepository
from isthmus.adapters.storage.message_subscriptions import SqlMessageRepository, SqlNotificationRepository
from isthmus.adapters.storage.process_definitions import SqlProcessDefinitionRepository
from isthmus.adapters.storage.process_engine import (
    SqlEngineHistoryRepository,
    SqlProcessInstanceRepository,
    SqlUserTaskRepository,
)
from isthmus.adapters.storage.systems import SqlSystemRepository
from isthmus.errors import ConfigurationError


class SqlUnitOfWork:
    """``with uow: …; uow.commit()`` — every repository shares the one transaction."""

    processes: SqlProcessRepository
    users: SqlUserRepository
    sessions: SqlSessionRepository
    tokens: SqlTokenRepository
    login_attempts: SqlLoginAttemptRepository
    audit: SqlAuditRepository
    jobs: SqlJobRepository
    decision_models: SqlDecisionModelRepository
    instances: SqlProcessInstanceRepository
    user_tasks: SqlUserTaskRepository
    history: SqlEngineHistoryRepository
    process_definitions: SqlProcessDefinitionRepository
    event_logs: SqlEventLogRepository
    flows: SqlFlowRepository
    systems: SqlSystemRepository
    messages: SqlMessageRepository
    notifications: SqlNotificationRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        self._connection = self._engine.connect()
        self._transaction = self._connection.begin()
        db = self._connection
        self.processes = SqlProcessRepository(db)
        self.users = SqlUserRepository(db)
        self.sessions = SqlSessionRepository(db)
        self.tokens = SqlTokenRepository(db)
        self.login_attempts = SqlLoginAttemptRepository(db)
        self.audit = SqlAuditRepository(db)
        self.jobs = SqlJobRepository(db)
        self.decision_models = SqlDecisionModelRepository(db)
        self.instances = SqlProcessInstanceRepository(db)
        self.user_tasks = SqlUserTaskRepository(db)
        self.history = SqlEngineHistoryRepository(db)
        self.process_definitions = SqlProcessDefinitionRepository(db)
        self.event_logs = SqlEventLogRepository(db)
        self.flows = SqlFlowRepository(db)
        self.systems = SqlSystemRepository(db)
        self.messages = SqlMessageRepository(db)
        self.notifications = SqlNotificationRepository(db)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._connection is not None
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._after_commit = []
            self._connection.close()
            self._connection = None

    def commit(self) -> None:
        self._transaction.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    @property
    def connection(self) -> Connection:
        assert self._connection is not None, "use the unit of work inside `with`"
        return self._connection


class Database:
    """The engine of one database URL, the factory of units of work on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def upgrade(self) -> None:
        migrate.upgrade(self.engine)

    def require_current_schema(self) -> None:
        """Refuse to run on a database that was not migrated (a clear message, not a SQL error)."""
        if not migrate.is_current(self.engine):
            raise ConfigurationError(
                "the database at {url} is not at the current schema; run `isthmus db upgrade`",
                url=self.engine.url.render_as_string(hide_password=True),
            )

    def dispose(self) -> None:
        self.engine.dispose()
