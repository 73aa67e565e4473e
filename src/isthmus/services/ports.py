"""The ports the application services need, each with its contract in the docstring.

``adapters/storage`` implements them on SQLAlchemy (SQLite and PostgreSQL);
``isthmus.testing`` has in-memory fakes for tests and embedding.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import NamedTuple, Protocol, Self

from isthmus.catalog import NodeSla, Process, ProcessId, ProcessQuery
from isthmus.decisions import DeployedModel, ModelDraft
from isthmus.engine import (
    HistoryLine,
    MessageSubscription,
    Notification,
    ProcessInstance,
    TaskQuery,
    TaskState,
    UserTask,
)
from isthmus.integration import DeployedFlow, FlowMessage, MessageState, NewMessage, System, TestStatus
from isthmus.jobs import Job, JobId, JobState, NewJob
from isthmus.mining import StoredLog
from isthmus.models import DeployedProcess, ProcessDraft
from isthmus.security import ApiToken, AuditEvent, AuditRecord, User, UserId, WebSession


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""


class ProcessRepository(Protocol):
    def get(self, process_id: ProcessId) -> Process | None: ...

    def add(self, process: Process, now: datetime) -> Process:
        """Insert; raises :class:`~isthmus.errors.Conflict` when the id exists."""

    def update(self, process: Process, now: datetime) -> Process:
        """Replace the row whose id and ``version`` match ``process``; returns it with version + 1.
        Raises ``Conflict`` when the stored version differs (someone else saved first)."""

    def delete(self, process_id: ProcessId) -> None: ...

    def query(self, query: ProcessQuery) -> tuple[list[Process], int]:
        """One page of matches and the total number of matches."""

    def all(self) -> list[Process]:
        """Every process, ordered by id."""

    def slas(self, process_id: ProcessId) -> tuple[NodeSla, ...]:
        """The process's node SLAs in the order they were given; () when it has none (or no such
        process)."""

    def all_slas(self) -> dict[ProcessId, tuple[NodeSla, ...]]:
        """The SLAs of every process that has any."""

    def replace_slas(self, process_id: ProcessId, slas: tuple[NodeSla, ...]) -> None:
        """Make ``slas`` the process's whole list; raises ``NotFound`` for an unknown process.
        Deleting a process deletes its SLAs."""


class UserRepository(Protocol):
    def get(self, user_id: UserId) -> User | None: ...

    def by_name(self, username: str) -> User | None: ...

    def add(self, user: User, now: datetime) -> User:
        """Insert; raises ``Conflict`` when the name is taken."""

    def update(self, user: User) -> None: ...

    def list(self) -> list[User]: ...


class SessionRepository(Protocol):
    def add(self, session: WebSession) -> None: ...

    def get(self, digest: str) -> WebSession | None: ...

    def touch(self, digest: str, now: datetime) -> None: ...

    def delete(self, digest: str) -> None: ...

    def delete_for_user(self, user_id: UserId) -> None: ...


class TokenRepository(Protocol):
    def add(self, token: ApiToken) -> ApiToken: ...

    def by_digest(self, digest: str) -> ApiToken | None: ...

    def mark_used(self, token_id: int, now: datetime) -> None: ...

    def for_user(self, user_id: UserId) -> list[ApiToken]: ...

    def revoke(self, token_id: int) -> None: ...


class LoginAttemptRepository(Protocol):
    def record(self, username: str, address: str, succeeded: bool, at: datetime) -> None: ...

    def failures_since(self, *, username: str, address: str, since: datetime) -> tuple[int, int]:
        """Failed attempts since ``since``: (for this user name, from this address)."""


class AuditRepository(Protocol):
    def append(self, event: AuditEvent) -> AuditRecord:
        """Chain ``event`` after the current head and move the head, serialised against other
        appenders (row lock on PostgreSQL, the write lock on SQLite)."""

    def records(self) -> Iterator[AuditRecord]:
        """Every record in storage order (by sequence), streamed."""

    def head(self) -> tuple[int, str] | None: ...

    def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[AuditRecord], int]:
        """Newest first."""


class JobRepository(Protocol):
    def enqueue(self, job: NewJob, now: datetime) -> JobId | None:
        """Insert in the caller's transaction; None when a job with the same ``dedupe_key`` was
        ever enqueued (enqueueing is idempotent)."""

    def enqueue_many(self, new_jobs: Sequence[NewJob], now: datetime) -> None:
        """Insert many jobs without dedupe keys in the caller's transaction, in one statement."""

    def claim(
        self,
        worker: str,
        now: datetime,
        lease_s: float,
        limit: int,
        *,
        kinds: Collection[str] = (),
        exclude_kinds: Collection[str] = (),
    ) -> list[Job]:
        """Take up to ``limit`` due jobs (ready with run_at ≤ now, or running with an expired
        lease) whose serial key has no other running job; mark them running under a lease.
        Uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so workers never take the same job.
        ``kinds`` limits the claim to those kinds, ``exclude_kinds`` leaves those to others."""

    def complete(self, job_id: JobId, worker: str, now: datetime) -> bool:
        """False when the lease was lost (another worker took over); the caller rolls back."""

    def complete_many(self, job_ids: list[JobId], worker: str, now: datetime) -> bool:
        """Complete a batch of jobs (SQL: one statement); False when any lease was lost (the
        caller rolls back the whole transaction)."""

    def reschedule(
        self, job_id: JobId, worker: str, *, error: str, run_at: datetime, now: datetime
    ) -> bool: ...

    def give_up(self, job_id: JobId, worker: str, *, error: str, now: datetime) -> bool:
        """Mark the job an incident."""

    def get(self, job_id: JobId) -> Job | None: ...

    def list(self, state: JobState | None = None, limit: int = 100) -> list[Job]: ...

    def retry(self, job_id: JobId, now: datetime) -> Job:
        """An incident (or cancelled job) back to ready with a fresh attempt budget."""

    def next_due(self, *, exclude_kinds: Collection[str] = ()) -> datetime | None:
        """The earliest run_at among ready jobs (of kinds other than ``exclude_kinds``)."""

    def counts(self) -> dict[JobState, int]: ...

    def renew(self, job_id: JobId, worker: str, attempt: int, now: datetime, lease_s: float) -> bool:
        """Extend a running job's lease to ``now + lease_s`` if ``worker`` still holds it from the
        claim that made attempt ``attempt`` (the fencing token: any later claim, even by the same
        worker, counts another attempt). False when the lease was lost: the caller must stop and
        commit nothing more."""


class DecisionModelRepository(Protocol):
    """Deployed DMN models, in immutable versions numbered 1, 2, 3 … per key."""

    def add(self, draft: ModelDraft, *, deployed_by: str, now: datetime) -> DeployedModel:
        """Store ``draft`` as the next version of its key (1 for a new key) and return it.

        When ``draft.content_hash`` equals the latest version's hash, nothing is stored and that
        latest version is returned (deploying the same file twice is idempotent). Raises
        ``Conflict`` when a concurrent deployment took the version number first."""

    def latest(self, key: str) -> DeployedModel | None:
        """The highest version of ``key``; None when the key was never deployed."""

    def get(self, key: str, version: int) -> DeployedModel | None: ...

    def versions(self, key: str) -> list[DeployedModel]:
        """Every version of ``key``, oldest first (empty for an unknown key)."""

    def list_latest(self) -> list[DeployedModel]:
        """The latest version of every key, ordered by key."""


class EventLogRepository(Protocol):
    """The registry of imported event logs (their events are Parquet files the service owns)."""

    def add(self, log: StoredLog) -> StoredLog:
        """Insert; raises ``Conflict`` when the id exists."""

    def get(self, log_id: str) -> StoredLog | None: ...

    def list(self) -> list[StoredLog]:
        """Newest import first."""

    def link(self, log_id: str, process_id: str | None) -> None:
        """Record which catalog process the log describes (None: none)."""


class ProcessDefinitionRepository(Protocol):
    """BPMN process definitions, in immutable versions numbered 1, 2, 3 … per key (the process id).

    Drafts and deployments share the numbering; a draft is a saved version that is never run, so
    :meth:`latest` skips drafts unless asked for them."""

    def add(
        self, draft: ProcessDraft, *, deployment_id: str, deployed_by: str, now: datetime
    ) -> DeployedProcess:
        """Store ``draft`` as the next version of its key (1 for a new key) and return it.

        Raises ``Conflict`` when a concurrent deployment took the version number first."""

    def latest(self, key: str, *, include_drafts: bool = False) -> DeployedProcess | None:
        """The highest (deployed, unless ``include_drafts``) version of ``key``; None when none."""

    def get(self, key: str, version: int) -> DeployedProcess | None: ...

    def versions(self, key: str) -> list[DeployedProcess]:
        """Every version of ``key``, drafts included, oldest first (empty for an unknown key)."""

    def list_latest(self, *, include_drafts: bool = False) -> list[DeployedProcess]:
        """The latest version of every key, ordered by key (keys with only drafts are left out
        unless ``include_drafts``)."""


class ProcessInstanceRepository(Protocol):
    """Process instances of the engine: the state document plus the columns to query it by."""

    def add(self, instance: ProcessInstance) -> None:
        """Insert; raises ``Conflict`` when the id exists."""

    def get(self, instance_id: str) -> ProcessInstance | None: ...

    def preload(self, instance_ids: builtins.list[str]) -> None:
        """Read these instances now, together (SQL: one statement): a batch of steps gets them
        next. Only a hint for speed; ids that do not exist are ignored."""

    def save(self, instance: ProcessInstance) -> ProcessInstance:
        """Replace the row whose id and ``revision`` match; returns it with revision + 1. Raises
        ``Conflict`` when someone else saved the instance first (the caller retries the step)."""

    def list(
        self, *, status: str | None = None, definition_key: str | None = None, limit: int = 100
    ) -> builtins.list[ProcessInstance]:
        """Newest first."""

    def children(self, parent_id: str) -> builtins.list[ProcessInstance]:
        """Instances started by call activities of ``parent_id``."""

    def incident_jobs(self, instance_id: str) -> int:
        """How many jobs of this instance (serial key = its id) are incidents."""


class UserTaskRepository(Protocol):
    """The inbox: one row per user task activation."""

    def add(self, task: UserTask) -> UserTask:
        """Insert; returns the task with its new id."""

    def get(self, task_id: int) -> UserTask | None: ...

    def update(self, task: UserTask) -> None: ...

    def open_for_token(self, instance_id: str, token: int) -> UserTask | None: ...

    def close(self, instance_id: str, token: int, state: TaskState, by: str | None, at: datetime) -> None:
        """Close the open task of ``token`` (completed or cancelled)."""

    def find(self, query: TaskQuery) -> list[UserTask]:
        """Matching tasks, oldest first (open only unless ``query.include_closed``)."""


class EngineHistoryRepository(Protocol):
    """The engine's event log (DESIGN.md schema)."""

    def append(self, lines: list[HistoryLine]) -> None: ...

    def for_instance(self, instance_id: str) -> list[HistoryLine]:
        """In the order written."""

    def all(self, limit: int = 100_000) -> list[HistoryLine]: ...


class MessageRepository(Protocol):
    """Message subscriptions (instance waits and process message starts) and published message ids."""

    def for_instance(self, instance_id: str) -> builtins.list[MessageSubscription]: ...

    def add(self, subscriptions: builtins.list[MessageSubscription]) -> None: ...

    def remove(self, ids: builtins.list[int]) -> None: ...

    def find(self, message_name: str, correlation_key: str | None) -> builtins.list[MessageSubscription]:
        """Instance subscriptions of ``message_name`` whose key equals ``correlation_key`` (None
        matches only keyless subscriptions), oldest first."""

    def starts(self, message_name: str) -> builtins.list[MessageSubscription]:
        """Message start subscriptions (no instance) of ``message_name``."""

    def replace_starts(self, process_key: str, subscriptions: builtins.list[MessageSubscription]) -> None:
        """The message starts of ``process_key`` are now exactly ``subscriptions`` (a new version)."""

    def published(self, message_id: str) -> dict[str, object] | None:
        """What publishing message ``message_id`` did, when it was published before."""

    def remember(
        self,
        message_id: str,
        message_name: str,
        correlation_key: str | None,
        result: dict[str, object],
        now: datetime,
    ) -> bool:
        """Record ``message_id``; False (and nothing written) when it was recorded before."""


class NotificationRepository(Protocol):
    """Escalation notices for users and groups."""

    def add(self, notification: Notification) -> Notification: ...

    def for_recipients(
        self, user: str, groups: frozenset[str], *, unread_only: bool = True, limit: int = 100
    ) -> builtins.list[Notification]:
        """Newest first: those for ``user`` and those for one of ``groups``."""

    def for_instance(self, instance_id: str) -> builtins.list[Notification]: ...

    def mark_read(self, notification_id: int, now: datetime) -> None: ...


class DeliveryClaim(NamedTuple):
    """Delivery jobs claimed together with what a round needs to send them."""

    jobs: list[Job]
    messages: dict[int, FlowMessage]  # the jobs' messages found, by id
    latest: dict[str, int]  # the latest version of each of their flows
    serial_due: bool  # due jobs with a serial key were left for the general claim


class FlowRepository(Protocol):
    """Deployed integration flows (versions of their YAML) and the outbox of their messages."""

    def deploy(self, flow_id: str, text: str, *, deployed_by: str, now: datetime) -> DeployedFlow:
        """Store ``text`` as the next version of ``flow_id``; the latest text again returns the latest."""

    def get(self, flow_id: str) -> DeployedFlow | None:
        """The latest version."""

    def list(self) -> list[DeployedFlow]:
        """The latest version of every flow, by id."""

    def record_test(self, flow_id: str, status: TestStatus, now: datetime) -> None: ...

    def add_message(self, message: NewMessage, now: datetime) -> FlowMessage | None:
        """Insert in the caller's transaction; None when the flow already holds a message with the
        same idempotency key (a duplicate is accepted once)."""

    def add_messages(self, messages: Sequence[NewMessage], now: datetime) -> int:
        """Insert many in the caller's transaction, skipping keys already held; how many were new."""

    def latest_versions(self, flow_ids: Collection[str]) -> dict[str, int]:
        """The latest deployed version of each flow named (flows never deployed are left out)."""

    def insert_messages(self, messages: Sequence[NewMessage], now: datetime) -> dict[tuple[str, str], int]:
        """As ``add_messages`` (keys distinct per flow); the new ids by (flow id, idempotency key)."""

    def wake_deliveries(self) -> None:
        """Let workers waiting for delivery jobs know, once this transaction commits."""

    def insert_delivering(
        self,
        messages: Sequence[NewMessage],
        versions: Mapping[str, int],
        jobs: Mapping[str, NewJob],
        queue: JobRepository,
        now: datetime,
        *,
        alone: bool = False,
    ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """A webhook group's write: the latest version of each flow in ``versions``; the messages of
        the flows still at the version given there inserted (keys distinct per flow, already held
        ones skipped), each new one with a delivery job made from its flow's template in ``jobs``
        (the template's payload plus ``"message": <new id>``, enqueued on ``queue``), and the workers
        woken. Returns (latest versions, new ids by (flow id, idempotency key)). PostgreSQL does
        all of it in one statement; ``alone`` says the unit of work writes nothing else, so that
        statement may commit by itself (the unit of work's commit is still called)."""

    def message(self, message_id: int) -> FlowMessage | None: ...

    def messages_by_id(self, message_ids: Collection[int]) -> dict[int, FlowMessage]:
        """The messages found among ``message_ids``, by id."""

    def delivery_messages(
        self, message_ids: Collection[int]
    ) -> tuple[dict[int, FlowMessage], dict[str, int]]:
        """A delivery round's read: the messages found among ``message_ids`` by id, and the latest
        version of each of their flows. PostgreSQL reads both in one statement."""

    def claim_deliveries(
        self, kind: str, worker: str, now: datetime, lease_s: float, limit: int
    ) -> DeliveryClaim | None:
        """A delivery round's claim and read at once, as the unit of work's first statement:
        up to ``limit`` due jobs of ``kind`` without a serial key leased to ``worker`` (as
        :meth:`JobRepository.claim` would), their messages and their flows' latest versions.
        ``serial_due`` tells that due jobs with a serial key were seen and left to
        :meth:`JobRepository.claim`. None where the database has no such statement (the caller
        claims and reads separately). PostgreSQL: one statement, which commits by itself."""

    def mark_delivered(self, delivered: Sequence[tuple[int, int]], now: datetime) -> None:
        """(message id, attempts) pairs: delivered at ``now``."""

    def complete_delivered(
        self,
        delivered: Sequence[tuple[int, int]],
        job_ids: builtins.list[JobId],
        queue: JobRepository,
        worker: str,
        now: datetime,
        *,
        alone: bool = False,
    ) -> bool:
        """A delivery round's last write: ``delivered`` as :meth:`mark_delivered`, and the jobs
        ``job_ids`` completed on ``queue`` (leased to ``worker``). False when any lease was lost —
        the caller rolls back. PostgreSQL does both in one statement, which writes nothing when a
        lease was lost, and commits by itself when ``alone`` (the unit of work wrote nothing else)."""

    def replace_payload(
        self, message_id: int, key: str, payload: dict[str, object], display: dict[str, object]
    ) -> None:
        """A re-mapped rejected record: new key and payload. Raises ``Conflict`` when another message
        of the flow holds ``key``."""

    def save_message(self, message: FlowMessage) -> None:
        """Write back state, attempts, last error and times."""

    def messages(
        self, *, flow_id: str | None = None, states: tuple[MessageState, ...] = (), limit: int = 100
    ) -> builtins.list[FlowMessage]:
        """Oldest first."""

    def counts(self, flow_id: str) -> dict[MessageState, int]: ...


class SystemRepository(Protocol):
    """The systems registry; credentials stay sealed envelopes here (the service opens them)."""

    def get(self, name: str) -> System | None: ...

    def put(self, system: System, now: datetime) -> None:
        """Insert or replace by name (``created_at`` kept)."""

    def list(self) -> builtins.list[System]:
        """By name."""

    def delete(self, name: str) -> bool:
        """Remove ``name`` and its sealed credentials; False when there was none."""


class UnitOfWork(Protocol):
    """One transaction. ``with uow:`` begins it; ``commit()`` makes every change durable at once;
    leaving the block without commit rolls everything back."""

    @property
    def processes(self) -> ProcessRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def login_attempts(self) -> LoginAttemptRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def jobs(self) -> JobRepository: ...

    @property
    def decision_models(self) -> DecisionModelRepository: ...

    @property
    def instances(self) -> ProcessInstanceRepository: ...

    @property
    def user_tasks(self) -> UserTaskRepository: ...

    @property
    def history(self) -> EngineHistoryRepository: ...

    @property
    def process_definitions(self) -> ProcessDefinitionRepository: ...

    @property
    def event_logs(self) -> EventLogRepository: ...

    @property
    def flows(self) -> FlowRepository: ...

    @property
    def messages(self) -> MessageRepository: ...

    @property
    def notifications(self) -> NotificationRepository: ...

    @property
    def systems(self) -> SystemRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the next successful ``commit()`` (e.g. removing a file the
        committed change no longer references); dropped if the transaction rolls back."""


UnitOfWorkFactory = Callable[[], UnitOfWork]
JobHandler = Callable[[Job, UnitOfWork], None]

__all__ = [
    "AuditRepository",
    "Clock",
    "DecisionModelRepository",
    "EngineHistoryRepository",
    "EventLogRepository",
    "FlowRepository",
    "JobHandler",
    "JobRepository",
    "LoginAttemptRepository",
    "MessageRepository",
    "NotificationRepository",
    "ProcessDefinitionRepository",
    "ProcessInstanceRepository",
    "ProcessRepository",
    "SessionRepository",
    "SystemRepository",
    "TokenRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "UserTaskRepository",
]
