"""The database schema (SQLAlchemy Core). Alembic migrations under ``migrations/`` create it;
a test checks that the migrations and these tables never drift apart.

Times are stored as UTC (``UtcDateTime``); money and hours as ``Numeric``, never float.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    CursorResult,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import sqlite

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class _SqliteDateTime(sqlite.DATETIME):
    """SQLite's text form of a datetime, ``YYYY-MM-DD HH:MM:SS.ffffff`` as SQLAlchemy writes it
    (stored values compare as text), written with ``isoformat`` and read with ``fromisoformat``:
    SQLAlchemy's own %-formatting and regular expression cost ~3 µs a value, which the engine's
    batches pay hundreds of thousands of times."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            text = value.isoformat(" ")
            return text if value.microsecond else text + ".000000"

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            return None if value is None else parse(value)

        return process


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out — SQLite keeps no zone, so we normalise."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDateTime())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; Isthmus stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def inserted_id(result: CursorResult[Any]) -> int:
    """The new primary key of a single-row INSERT."""
    key = result.inserted_primary_key
    assert key is not None, "not a single-row insert"
    return int(key[0])


# BigInteger ids that are still SQLite rowid aliases (an INTEGER PRIMARY KEY autoincrements there).
BigId: Any = BigInteger().with_variant(Integer(), "sqlite")

processes = Table(
    "processes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("department", String(500), nullable=False, default=""),
    Column("system_support", String(500), nullable=False, default=""),
    Column("owner", String(500), nullable=False, default=""),
    Column("roles", JSON, nullable=False),
    Column("key_nodes", Integer, nullable=False, default=0),
    Column("avg_hours", Numeric(12, 2), nullable=False),
    Column("pain_points", JSON, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("priority_manual", Boolean, nullable=False),
    Column("value_score", Integer, nullable=True),
    Column("pain_score", Integer, nullable=True),
    Column("ease_score", Integer, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("roles", JSON, nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("language", String(8), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_login_attempts_username_at", "username", "at"),
    Index("ix_login_attempts_address_at", "address", "at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("object_type", String(100), nullable=False),
    Column("object_id", String(200), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_object", "object_type", "object_id"),
    Index("ix_audit_log_actor", "actor"),
)

# One row (id = 1): the last sequence number and hash. Appenders lock it, which serialises them.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigId, nullable=False),
    Column("hash", String(64), nullable=False),
)

RUNNING_HELD = "state = 'running' AND locked_by IS NOT NULL"
jobs = Table(
    "jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("run_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("policy", JSON, nullable=False),
    Column("serial_key", String(200), nullable=True),
    Column("dedupe_key", String(200), nullable=True),
    Column("locked_by", String(200), nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("dedupe_key", name="uq_jobs_dedupe_key"),
    Index("ix_jobs_state_run_at", "state", "run_at"),
    Index("ix_jobs_serial_key_state", "serial_key", "state"),
    # running jobs by lease end, for claims of expired leases (see migration 0015)
    Index(
        "ix_jobs_running_lease",
        "locked_until",
        sqlite_where=text(RUNNING_HELD),
        postgresql_where=text(RUNNING_HELD),
    ),
)

# Deployed DMN models: immutable versions per key; `decisions` lists what each version offers.
decision_models = Table(
    "decision_models",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(500), nullable=False),
    Column("namespace", String(1000), nullable=False),
    Column("content", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("decisions", JSON, nullable=False),
    Column("deployed_at", UtcDateTime, nullable=False),
    Column("deployed_by", String(200), nullable=False),
    UniqueConstraint("key", "version", name="uq_decision_models_key_version"),
)

# Deployed BPMN process definitions: immutable versions per key (the <process id>); drafts are saved
# versions that never run. ``content`` keeps the uploaded bytes, so an export is byte-identical.
process_definitions = Table(
    "process_definitions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(500), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("filename", String(500), nullable=False),
    Column("deployment_id", String(36), nullable=False, index=True),
    Column("deployed_at", UtcDateTime, nullable=False),
    Column("deployed_by", String(200), nullable=False),
    Column("draft", Boolean, nullable=False),
    UniqueConstraint("key", "version", name="uq_process_definitions_key_version"),
)

# The registry of imported event logs; the events themselves are Parquet files in <data dir>/logs.
event_logs = Table(
    "event_logs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("file", String(200), nullable=False),
    Column("source_format", String(20), nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("cases", Integer, nullable=False),
    Column("activities", Integer, nullable=False),
    Column("variants", Integer, nullable=False),
    Column("first_event", UtcDateTime, nullable=True),
    Column("last_event", UtcDateTime, nullable=True),
    Column("columns", JSON, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("process_id", String(50), nullable=True),
)

# Process engine: instances (state document + query columns), the task inbox, the event log.
process_instances = Table(
    "process_instances",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("business_key", String(200), nullable=True, index=True),
    Column("definition_key", String(200), nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("data", JSON, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("parent_id", String(36), nullable=True, index=True),
    Column("parent_token", Integer, nullable=True),
    Column("started_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Index("ix_process_instances_key_state", "definition_key", "state"),
)

user_tasks = Table(
    "user_tasks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", String(36), nullable=False),
    Column("token", Integer, nullable=False),
    Column("activation", Integer, nullable=False),
    Column("activity_id", String(200), nullable=False),
    Column("name", String(500), nullable=False),
    Column("process_key", String(200), nullable=False),
    Column("business_key", String(200), nullable=True),
    Column("candidate_groups", JSON, nullable=False),
    Column("candidate_users", JSON, nullable=False),
    Column("assignee", String(200), nullable=True),
    Column("due", UtcDateTime, nullable=True),
    Column("form", JSON, nullable=False),
    Column("four_eyes", Boolean, nullable=False),
    Column("initiator", String(200), nullable=True),
    Column("state", String(16), nullable=False),
    Column("comments", JSON, nullable=False),
    Column("attachments", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("completed_by", String(200), nullable=True),
    Index("ix_user_tasks_instance_token", "instance_id", "token"),
    Index("ix_user_tasks_state_assignee", "state", "assignee"),
)

engine_history = Table(
    "engine_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(200), nullable=False),
    Column("activity", String(500), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("lifecycle", String(16), nullable=False),
    Column("resource", String(200), nullable=False),
    Column("system", String(50), nullable=False),
    Column("instance_id", String(36), nullable=False, index=True),
    Column("node_id", String(200), nullable=False),
    Column("attributes", JSON, nullable=False),
)

# Chunk messages (one message carrying many rows) by their key; the partial index's predicate, which
# queries repeat verbatim so that the planners can use it.
CHUNK_KEYS = "idempotency_key LIKE 'chunk:%'"

# Integration flows: deployed definitions (YAML, versioned) and the outbox of their messages.
integration_flows = Table(
    "integration_flows",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("flow_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("deployed_at", UtcDateTime, nullable=False),
    Column("deployed_by", String(200), nullable=False),
    Column("test_status", String(16), nullable=False),
    Column("tested_at", UtcDateTime, nullable=True),
    UniqueConstraint("flow_id", "version", name="uq_integration_flows_flow_id_version"),
)

flow_messages = Table(
    "flow_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("flow_id", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("display", JSON, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("row_number", BigInteger, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("flow_id", "idempotency_key", name="uq_flow_messages_flow_id_key"),
    # The flow metrics' indexes (see adapters/storage/flow_metrics.py; migration 0014). The first
    # one also serves the delivery path's (flow_id, state) lookups, which had an index of their own.
    Index("ix_flow_messages_flow_state_delivered", "flow_id", "state", "delivered_at", "created_at"),
    Index("ix_flow_messages_flow_created", "flow_id", "created_at", "delivered_at", "state"),
    Index(
        "ix_flow_messages_chunks",
        "flow_id",
        "created_at",
        "idempotency_key",
        "state",
        "delivered_at",
        sqlite_where=text(CHUNK_KEYS),
        postgresql_where=text(CHUNK_KEYS),
    ),
)

# The systems registry; ``credentials`` is an AES-256-GCM envelope (see isthmus.integration._systems).
systems = Table(
    "systems",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("credentials", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Engine messages: who waits for which message (instance waits, and the message start events of the
# latest deployed versions, instance_id NULL), messages published with an id (idempotency), and the
# notifications of escalation timers.
message_subscriptions = Table(
    "message_subscriptions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_name", String(200), nullable=False),
    Column("correlation_key", String(500), nullable=True),
    Column("instance_id", String(36), nullable=True, index=True),
    Column("token", Integer, nullable=False),
    Column("node_id", String(200), nullable=False),
    Column("activation", Integer, nullable=False),
    Column("process_key", String(200), nullable=False, index=True),
    Column("process_version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_message_subscriptions_name_key", "message_name", "correlation_key"),
)

published_messages = Table(
    "published_messages",
    metadata,
    Column("message_id", String(200), primary_key=True),
    Column("message_name", String(200), nullable=False),
    Column("correlation_key", String(500), nullable=True),
    Column("result", JSON, nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
)

engine_notifications = Table(
    "engine_notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", String(36), nullable=False, index=True),
    Column("task_id", BigInteger, nullable=True),
    Column("node_id", String(200), nullable=False),
    Column("recipient_kind", String(10), nullable=False),
    Column("recipient", String(200), nullable=False),
    Column("text", String(1000), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("read_at", UtcDateTime, nullable=True),
    Index("ix_engine_notifications_recipient", "recipient_kind", "recipient"),
)

# Per-node SLAs of a catalog process (key node → ISO 8601 duration), in the owner's order; kept
# beside the table-1 row so its layout stays the guide's. Deleting a process deletes its SLAs.
process_slas = Table(
    "process_slas",
    metadata,
    Column("process_id", String(64), ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("node", String(200), nullable=False),
    Column("duration", String(64), nullable=False),
)

# Review decisions on duplicate clusters (isthmus.quality): one row per pair of records of a dataset,
# records named by the digest of their values, so a decision applies again on every re-run.
dedupe_reviews = Table(
    "dedupe_reviews",
    metadata,
    Column("dataset", String(200), primary_key=True),
    Column("first_record", String(64), primary_key=True),
    Column("second_record", String(64), primary_key=True),
    Column("decision", String(8), nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
)
