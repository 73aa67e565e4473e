"""SQL target (upsert by key) and source (incremental by a watermark column).

The upsert is ``INSERT … ON CONFLICT (key) DO UPDATE`` on SQLite and PostgreSQL, so delivering
the same message twice leaves one row. A chunk of a batch flow is one bulk upsert in one
transaction: the chunk's rows land in a temporary staging table, then one ``INSERT … SELECT … ON
CONFLICT`` runs inside the database (duplicates within the chunk resolved first, last wins, so the
statement never touches a row twice). On a SQLite file the staging table is filled from the Arrow
columns by ADBC (``adbc-driver-sqlite``), half the time of binding 50,000 Python tuples through
``executemany`` (bench/integration.py); on PostgreSQL by ``COPY`` (ADBC's binary COPY measured no
faster there). Columns ADBC cannot bind and in-memory databases take the ``executemany`` path.
Errors: a constraint or type the data breaks is ``TargetRejected``; a lost connection or a lock
timeout is ``TargetUnavailable``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import adbc_driver_manager as adbc
import adbc_driver_sqlite
import polars as pl
from sqlalchemy import Engine, MetaData, Table, create_engine, make_url, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.types import JSON, NullType

from isthmus.adapters.connectors.sql.config import SqlConfig
from isthmus.integration import Outbound, OutboundChunk, TargetRejected, TargetUnavailable

T = TypeVar("T")

# Polars types the ADBC SQLite driver binds as SQLite does a Python value of the same kind.
_ADBC_TYPES = (pl.String, pl.Boolean, pl.Null, pl.Float32, pl.Float64, pl.Binary)


_BUSY_TIMEOUT_MS = 5000  # as long as SQLAlchemy's sqlite driver waits for a lock


def _engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True)


class SqlTarget:
    """Satisfies ``isthmus.integration.Target``."""

    def __init__(self, config: SqlConfig, timeout_s: float) -> None:
        if not config.key:
            raise TargetRejected("SQL target {table}: options.key names no column", table=config.table)
        self.config = config
        self._engine = _engine(config.url)
        self._table: Table | None = None

    def _reflect(self) -> Table:
        if self._table is None:
            self._table = Table(self.config.table, MetaData(), autoload_with=self._engine)
        return self._table

    def _checked(self, columns: Iterator[str] | list[str]) -> Table:
        table = self._reflect()
        unknown = sorted(set(columns) - set(table.c.keys()))
        if unknown:
            raise TargetRejected(
                "{table}: no column(s) {columns}", table=self.config.table, columns=", ".join(unknown)
            )
        return table

    def _translated(self, work: Callable[[], T]) -> T:
        dbapi = self._engine.dialect.dbapi
        try:
            return work()
        except (adbc.IntegrityError, adbc.DataError, adbc.ProgrammingError) as exc:
            raise TargetRejected("{table}: {error}", table=self.config.table, error=str(exc)[:300]) from exc
        except adbc.Error as exc:
            raise TargetUnavailable(
                "{table}: {error}", table=self.config.table, error=str(exc)[:300]
            ) from exc
        except (dbapi.IntegrityError, dbapi.DataError, dbapi.ProgrammingError) as exc:  # type: ignore[union-attr]
            # raised by the driver's own cursor (the bulk paths bypass SQLAlchemy's wrapping)
            raise TargetRejected("{table}: {error}", table=self.config.table, error=str(exc)[:300]) from exc
        except dbapi.Error as exc:  # type: ignore[union-attr]
            raise TargetUnavailable(
                "{table}: {error}", table=self.config.table, error=str(exc)[:300]
            ) from exc
        except (IntegrityError, DataError, ProgrammingError) as exc:
            raise TargetRejected(
                "{table}: {error}", table=self.config.table, error=str(exc.orig)[:300]
            ) from exc
        except OperationalError as exc:
            raise TargetUnavailable(
                "{table}: {error}", table=self.config.table, error=str(exc.orig)[:300]
            ) from exc
        except SQLAlchemyError as exc:
            raise TargetUnavailable(
                "{table}: {error}", table=self.config.table, error=str(exc)[:300]
            ) from exc

    def send_chunk(self, chunk: OutboundChunk) -> None:
        """Upsert every row of ``chunk`` in one transaction; the last row of a key wins."""
        fields = chunk.fields
        missing = [k for k in self.config.key if k not in fields]
        if missing:
            raise TargetRejected(
                "{table}: the chunk has no key column(s) {columns}",
                table=self.config.table,
                columns=", ".join(missing),
            )
        frame = chunk.frame.select(fields).unique(subset=self.config.key, keep="last", maintain_order=True)
        if frame.height == 0:
            return
        self._translated(lambda: self._bulk_upsert(frame))

    def _bulk_upsert(self, frame: pl.DataFrame) -> None:
        table = self._checked(frame.columns)
        quote = self._engine.dialect.identifier_preparer.quote
        columns = ", ".join(quote(c) for c in frame.columns)
        key = ", ".join(quote(c) for c in self.config.key)
        updates = [c for c in frame.columns if c not in self.config.key]
        target = quote(table.name)
        action = (
            "DO UPDATE SET "
            + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in updates)
            + self._only_changed(table, target, updates)
            if updates
            else "DO NOTHING"
        )
        conflict = f"ON CONFLICT ({key}) {action}"
        database = self._sqlite_file()
        if database is not None and all(
            isinstance(dtype, _ADBC_TYPES) or dtype.is_integer() for dtype in frame.dtypes
        ):
            self._adbc_upsert(database, frame, target, columns, conflict)
            return
        with self._engine.begin() as conn:
            if self._engine.dialect.name == "postgresql":
                self._copy_upsert(conn, frame, target, columns, conflict)
                return
            # Identifiers are the reflected table's own names, quoted by the dialect; values are bound.
            marks = ", ".join("?" for _ in frame.columns)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.executemany(
                    f"INSERT INTO {target} ({columns}) VALUES ({marks}) ON CONFLICT ({key}) {action}",  # noqa: S608
                    frame.rows(),
                )
            finally:
                cursor.close()

    def _only_changed(self, table: Table, target: str, updates: list[str]) -> str:
        """``WHERE`` the row differs: a chunk delivered again (a replay, a crash, tomorrow's full
        export) rewrites no unchanged row; on PostgreSQL that halved the time of an upsert of
        unchanged rows and spares their dead tuples. Omitted on PostgreSQL when a column's type has
        no equality (json, unknown types)."""
        quote = self._engine.dialect.identifier_preparer.quote
        if self._engine.dialect.name == "postgresql":
            for name in updates:
                kind = table.c[name].type
                if isinstance(kind, NullType) or (isinstance(kind, JSON) and not isinstance(kind, JSONB)):
                    return ""
            differs = "IS DISTINCT FROM"
        else:
            differs = "IS NOT"
        old = ", ".join(f"{target}.{quote(c)}" for c in updates)
        new = ", ".join(f"excluded.{quote(c)}" for c in updates)
        return f" WHERE ({old}) {differs} ({new})"

    def _sqlite_file(self) -> str | None:
        """The database file of a SQLite target (ADBC opens it itself), else None."""
        if self._engine.dialect.name != "sqlite":
            return None
        database = make_url(self.config.url).database
        return None if not database or database == ":memory:" or database.startswith("file:") else database

    def _adbc_upsert(
        self, database: str, frame: pl.DataFrame, target: str, columns: str, conflict: str
    ) -> None:
        # ADBC's low-level API: its DB-API layer would import pyarrow (+60 MB resident) for nothing,
        # polars hands its columns over through the Arrow C stream interface. A connection per chunk:
        # opening a SQLite file costs well under a millisecond, and an ADBC connection must not be
        # shared between the threads that may deliver at once.
        db = adbc_driver_sqlite.connect(database)
        conn = adbc.AdbcConnection(db)
        statement = adbc.AdbcStatement(conn)
        try:
            statement.set_sql_query(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            statement.execute_update()
            conn.set_options(**{"adbc.connection.autocommit": "false"})
            statement.set_options(
                **{
                    adbc.INGEST_OPTION_TARGET_TABLE: "isthmus_chunk",
                    adbc.INGEST_OPTION_MODE: "adbc.ingest.mode.replace",
                    "adbc.ingest.temporary": "true",
                }
            )
            statement.bind_stream(frame)
            statement.execute_update()
            # WHERE true: SQLite's parser needs it to read ON CONFLICT after INSERT … SELECT
            for sql in (
                f"INSERT INTO {target} ({columns}) SELECT {columns} FROM temp.isthmus_chunk "  # noqa: S608
                f"WHERE true {conflict}",
                "DROP TABLE temp.isthmus_chunk",
            ):
                statement.set_sql_query(sql)
                statement.execute_update()
            conn.commit()
        finally:
            statement.close()
            conn.close()
            db.close()

    @staticmethod
    def _copy_upsert(conn: Any, frame: pl.DataFrame, target: str, columns: str, conflict: str) -> None:
        driver = conn.connection.driver_connection
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False)  # null is an empty field, "" a quoted one
        with driver.cursor() as cursor:
            like = f"SELECT {columns} FROM {target} WITH NO DATA"  # noqa: S608
            cursor.execute("CREATE TEMP TABLE isthmus_chunk ON COMMIT DROP AS " + like)
            with cursor.copy(f"COPY isthmus_chunk ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getbuffer())
            cursor.execute(
                f"INSERT INTO {target} ({columns}) SELECT {columns} FROM isthmus_chunk {conflict}"  # noqa: S608
            )

    def upsert(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows``, updating those whose key exists (one statement, one transaction)."""
        try:
            table = self._checked([c for row in rows for c in row])
            maker = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
            statement = maker(table)
            columns = [c for c in rows[0] if c not in self.config.key]
            if columns:
                statement = statement.on_conflict_do_update(
                    index_elements=self.config.key, set_={c: statement.excluded[c] for c in columns}
                )
            else:
                statement = statement.on_conflict_do_nothing(index_elements=self.config.key)
            with self._engine.begin() as conn:
                conn.execute(statement, rows)
        except (IntegrityError, DataError, ProgrammingError) as exc:
            raise TargetRejected(
                "{table}: {error}", table=self.config.table, error=str(exc.orig)[:300]
            ) from exc
        except OperationalError as exc:
            raise TargetUnavailable(
                "{table}: {error}", table=self.config.table, error=str(exc.orig)[:300]
            ) from exc
        except SQLAlchemyError as exc:
            raise TargetUnavailable(
                "{table}: {error}", table=self.config.table, error=str(exc)[:300]
            ) from exc

    def send(self, message: Outbound) -> None:
        self.upsert([dict(message.payload)])

    def close(self) -> None:
        self._engine.dispose()


class SqlSource:
    """Reads rows after the last committed watermark, in watermark order.

    ``batches(after)`` yields (first row number, records); the caller stores a batch in the outbox,
    then persists ``last_watermark`` — so a crash re-reads at most the uncommitted batch, and the
    outbox's idempotency keys drop the repeats.
    """

    def __init__(self, config: SqlConfig) -> None:
        if not config.watermark:
            raise TargetRejected("SQL source {table}: options.watermark names no column", table=config.table)
        self.config = config
        self._engine = _engine(config.url)
        self.last_watermark: Any = None

    def batches(self, after: Any = None) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        table = Table(self.config.table, MetaData(), autoload_with=self._engine)
        mark = table.c[str(self.config.watermark)]
        row_number, cursor = 1, after
        while True:
            query = select(table).order_by(mark).limit(self.config.batch_rows)
            if cursor is not None:
                query = query.where(mark > cursor)
            with self._engine.connect() as conn:
                records = [dict(r._mapping) for r in conn.execute(query)]
            if not records:
                return
            cursor = records[-1][mark.name]
            self.last_watermark = cursor
            yield row_number, records
            row_number += len(records)

    def close(self) -> None:
        self._engine.dispose()
