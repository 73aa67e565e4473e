"""Database engines for SQLite and PostgreSQL with the settings Isthmus relies on.

SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (a committed transaction
survives power loss), foreign keys on, and ``BEGIN IMMEDIATE`` for every transaction so that a
read-then-write transaction takes the write lock up front instead of failing with SQLITE_BUSY
when it upgrades (https://sqlite.org/lang_transaction.html).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from isthmus.errors import ConfigurationError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; raises :class:`ConfigurationError` for an unusable URL."""
    url = normalise_url(url)
    # Chinese text stays readable (and searchable with LIKE) inside JSON columns.
    kwargs.setdefault("json_serializer", partial(json.dumps, ensure_ascii=False))
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError("--db / ISTHMUS_DB_URL: not a database URL: {value!r}", value=url) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database, **kwargs)
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    raise ConfigurationError(
        "--db / ISTHMUS_DB_URL: expected a sqlite:/// or postgresql:// URL, got {value!r}", value=backend
    )


def _sqlite_engine(url: str, database: str | None, **kwargs: Any) -> Engine:
    if not database or database == ":memory:":
        raise ConfigurationError(
            "SQLite needs a file (sqlite:///path/to/isthmus.db), not an in-memory database"
        )
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite would otherwise begin lazily, deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
        # SQLite's lower() folds ASCII only; searches must match 'ÄRZTE' with 'ärzte' as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
