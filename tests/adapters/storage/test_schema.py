"""Migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from isthmus.adapters.storage import Database, migrate
from isthmus.adapters.storage.tables import metadata


def test_migrations_match_the_declared_tables(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    db.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_reports_current(db_url: str) -> None:
    db = Database(db_url)
    assert not migrate.is_current(db.engine)
    db.upgrade()
    db.upgrade()
    assert migrate.current_revision(db.engine) == migrate.head_revision()
    db.require_current_schema()
    db.dispose()


def test_sqlite_runs_with_wal_full_sync_and_foreign_keys(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()
