"""SQL target (upsert by key) and source (incremental by a watermark column).

The upsert is ``INSERT … ON CONFLICT (key) DO UPDATE`` on SQLite and PostgreSQL, so delivering
the same message twice leaves one row. A chunk of a batch flow is one bulk upsert in one
transaction: the chunk's rows land in a temporary staging table, then one ``INSERT … SELECT … ON
CONFLICT`` runs inside the database (duplicates within the chunk resolved first, last wins, so the
statement never touches a row twice). On a SQLite file the staging table is filled from the Arrow
columns by ADBC (``adbc-driver-sqlite``), half the time of binding 50,000 Python tuples through
``executemany`` (bench/integration.py); on PostgreSQL by ``COPY`` (ADBC's binary COPY measured no
faster there). Columns ADBC cannot bind and in-memory databases take the ``executemany`` path.
On PostgreSQL the keys a table cannot hold yet skip the staging: one index probe of the chunk's key
range, then ``COPY`` straight into the table, guarded by the key's unique index and a savepoint
(see ``SqlTarget._copy_new_keys``) — a third of the time of the staged upsert for new keys.
Errors: a constraint or type the data breaks is ``TargetRejected``; a lost connection or a lock
timeout is ``TargetUnavailable``.
"""

from __future__ import annotations

import io
from collections import Counter
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
from sqlalchemy.pool import NullPool
from sqlalchemy.types import JSON, NullType

from isthmus.adapters.connectors.sql.config import SqlConfig
from isthmus.integration import Outbound, OutboundChunk, TargetRejected, TargetUnavailable

T = TypeVar("T")

# Polars types the ADBC SQLite driver binds as SQLite does a Python value of the same kind.
_ADBC_TYPES = (pl.String, pl.Boolean, pl.Null, pl.Float32, pl.Float64, pl.Binary)


_BUSY_TIMEOUT_MS = 5000  # as long as SQLAlchemy's sqlite driver waits for a lock
_UNIQUE_VIOLATION = "23505"
_MIN_SPLIT_ROWS = 1000  # fewer new keys above the existing ones than this: not worth a second COPY


def _csv(frame: pl.DataFrame) -> memoryview:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False)  # null is an empty field, "" a quoted one
    return buffer.getbuffer()


def _key_bounds(frame: pl.DataFrame, key: list[str]) -> tuple[list[str], list[str]] | None:
    """The least and greatest key of ``frame`` (row order over the key columns), as text the
    server casts to the columns' types; None when a key is null (no range to probe)."""
    keys = frame.select(key)
    if keys.null_count().sum_horizontal().item():
        return None
    if len(key) == 1:
        low, high = [keys[key[0]].min()], [keys[key[0]].max()]
    else:
        ordered = keys.sort(key)
        low, high = list(ordered.row(0)), list(ordered.row(-1))
    return [str(v) for v in low], [str(v) for v in high]


def _above(key: list[str], found: tuple[Any, ...]) -> pl.Expr:
    """Rows whose key is greater than ``found`` in row order (lexicographic over the columns)."""
    expr: pl.Expr = pl.col(key[-1]) > found[-1]
    for name, value in zip(reversed(key[:-1]), reversed(found[:-1]), strict=True):
        expr = (pl.col(name) > value) | ((pl.col(name) == value) & expr)
    return expr


def _engine(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        # No idle connection kept open: chunks are written through ADBC, whose SQLite is a second
        # copy of the library in this process. Two copies do not see each other's locks, and one
        # holding a WAL file open while the other writes and checkpoints it reads a stale index
        # ("database disk image is malformed": reproduced with a pooled connection). See
        # https://sqlite.org/howtocorrupt.html, "Multiple copies of SQLite linked into the same
        # application"; the connector's README says what this leaves to the operator.
        return create_engine(url, poolclass=NullPool)
    return create_engine(url, pool_pre_ping=True)


class SqlTarget:
    """Satisfies ``isthmus.integration.Target``."""

    def __init__(self, config: SqlConfig, timeout_s: float) -> None:
        if not config.key:
            raise TargetRejected("SQL target {table}: options.key names no column", table=config.table)
        self.config = config
        self._engine = _engine(config.url)
        self._table: Table | None = None
        self._direct: bool | None = None  # PostgreSQL: has the table a unique index on the key (last seen)
        # how each PostgreSQL chunk went (copied, split, fallback, staged): for tests and profiling
        self.paths: Counter[str] = Counter()
        self.on_probed: Callable[[], None] = lambda: None  # a seam for tests: after the key probe
        self.min_split_rows = _MIN_SPLIT_ROWS

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
        frame = chunk.frame.select(fields)
        # counting distinct keys is a fifth of the time of unique(); most chunks hold none twice
        key = self.config.key
        distinct = frame.get_column(key[0]).n_unique() if len(key) == 1 else frame.n_unique(subset=key)
        if distinct < frame.height:
            frame = frame.unique(subset=key, keep="last", maintain_order=True)
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

    def _copy_upsert(self, conn: Any, frame: pl.DataFrame, target: str, columns: str, conflict: str) -> None:
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor:
            rest = self._copy_new_keys(cursor, frame, target, columns)
            if rest.height == 0:
                return
            self.paths["staged"] += 1
            like = f"SELECT {columns} FROM {target} WITH NO DATA"  # noqa: S608
            cursor.execute("CREATE TEMP TABLE isthmus_chunk ON COMMIT DROP AS " + like)
            with cursor.copy(f"COPY isthmus_chunk ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(_csv(rest))
            cursor.execute(
                f"INSERT INTO {target} ({columns}) SELECT {columns} FROM isthmus_chunk {conflict}"  # noqa: S608
            )

    def _copy_new_keys(self, cursor: Any, frame: pl.DataFrame, target: str, columns: str) -> pl.DataFrame:
        """COPY the rows whose keys the table cannot hold yet straight into it; returns the rest.

        ``INSERT … SELECT … ON CONFLICT`` costs PostgreSQL a speculative insertion per row (~6 s per
        1M new text keys here); a plain ``COPY`` into the table ~2 s. So the chunk's key range
        (the keys are unique in the frame already) is probed on the key's index: no row in it →
        the whole chunk is COPYed; rows in it → the keys above the greatest one there are COPYed
        (appended keys, e.g. today's new orders in a full export) and the rest staged. The probe
        is a hint, the unique index the guarantee: a key that exists after all (a concurrent
        writer inserted it after the probe, or the key orders differently in Polars than in the
        column's collation) makes the COPY fail with a unique violation, rolled back to a
        savepoint, and the whole chunk goes the staged way. COPY fires the table's row triggers
        as INSERT does; it does not apply rules (``CREATE RULE``) — like any upsert target, a
        table with rules is not supported."""
        key = self.config.key
        if self._direct is False:  # no unique index on the key: ON CONFLICT will say so
            return frame
        bounds = _key_bounds(frame, key)
        if bounds is None:
            return frame
        quote = self._engine.dialect.identifier_preparer.quote
        keys = ", ".join(quote(k) for k in key)
        marks = ", ".join("%s" for _ in key)
        latest = ", ".join(f"{quote(k)} DESC" for k in key)
        cursor.execute(
            f"SELECT {keys} FROM {target} WHERE ({keys}) >= ({marks}) AND ({keys}) <= ({marks}) "  # noqa: S608
            f"ORDER BY {latest} LIMIT 1",
            [*bounds[0], *bounds[1]],
        )
        found = cursor.fetchone()
        # asked after the probe, whose lock on the table keeps the index from being dropped until commit
        self._direct = self._unique_key(cursor, target)
        if not self._direct:
            return frame
        if found is None:
            fresh, rest, path = frame, frame.clear(), "copied"
        else:
            try:
                above = _above(key, tuple(found))
                fresh, rest = frame.filter(above), frame.filter(~above)
            except (pl.exceptions.PolarsError, TypeError):  # a key Polars cannot compare so
                return frame
            if fresh.height < self.min_split_rows:
                return frame
            path = "split"
        self.on_probed()
        cursor.execute("SAVEPOINT isthmus_copy")
        try:
            with cursor.copy(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(_csv(fresh))
        except self._engine.dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
            if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT isthmus_copy")
            self.paths["fallback"] += 1
            return frame
        cursor.execute("RELEASE SAVEPOINT isthmus_copy")
        self.paths[path] += 1
        return rest

    def _unique_key(self, cursor: Any, target: str) -> bool:
        """Whether a unique index checked at once (not deferred: a deferred one would report a
        duplicate only at commit, past the savepoint) covers exactly the key columns — the
        guarantee the COPY path rests on. Asked for every chunk (~1 ms): a table can change."""
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = %s::regclass "
            "AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL "
            "AND i.indexprs IS NULL AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) "
            "FROM pg_attribute a WHERE a.attrelid = i.indrelid "
            "AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) = %s::text[])",
            [target, sorted(self.config.key)],
        )
        row = cursor.fetchone()
        return bool(row and row[0])

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
