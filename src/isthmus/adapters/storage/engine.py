"""Database engines for SQLite and PostgreSQL with the settings Isthmus relies on.

SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (a committed transaction
survives power loss), foreign keys on, and ``BEGIN IMMEDIATE`` for every transaction so that a
read-then-write transaction takes the write lock up front instead of failing with SQLITE_BUSY
when it upgrades (https://sqlite.org/lang_transaction.html).
"""

from __future__ import annotations

import re
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from isthmus.adapters import json_codec
from isthmus.errors import ConfigurationError, Conflict

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def dump_json(value: Any) -> str:
    """JSON text of a column value (UTF-8, so Chinese text stays readable and searchable with
    LIKE; orjson, which the engine's hot path pays on every step, see :mod:`isthmus.adapters.json_codec`)."""
    return json_codec.dumps(value).decode()


def load_json(text: str | bytes) -> Any:
    """A JSON column's value; what the standard library wrote before (``NaN``) is read too."""
    return json_codec.loads(text, strict=False)


# a pooled connection idle longer than this is pinged before use (see _ping_when_idle)
PING_IDLE_S = 2.0


def _ping_when_idle(engine: Engine, idle_s: float = PING_IDLE_S) -> Engine:
    """Ping a pooled PostgreSQL connection at checkout only when it sat idle for ``idle_s``.

    Why: ``pool_pre_ping`` costs a round trip per transaction — on the webhook path that is one
    of three per group commit (ping, the statement, the commit) and one of three or four per
    delivery round. A connection in steady use has just proved itself; one left idle (a server
    restart, a dropped TCP connection) is the one to check. A dead connection fails the ping,
    and the pool replaces it before the caller sees it, as with ``pool_pre_ping``."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["isthmus_idle_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("isthmus_idle_from")
        if since is not None and time.monotonic() - since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # what pool_pre_ping runs
        except Exception as exc:  # the pool discards this connection and checks out another
            raise DisconnectionError() from exc

    return engine


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; raises :class:`ConfigurationError` for an unusable URL."""
    url = normalise_url(url)
    # fixed, not defaults: the bulk COPY path (_copy_field) writes JSON columns with dump_json too
    kwargs["json_serializer"] = dump_json
    kwargs["json_deserializer"] = load_json
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError("--db / ISTHMUS_DB_URL: not a database URL: {value!r}", value=url) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _with_deferred_writes(_sqlite_engine(url, parsed.database, **kwargs))
    if backend == "postgresql":
        return _with_deferred_writes(_ping_when_idle(create_engine(url, **kwargs)))
    raise ConfigurationError(
        "--db / ISTHMUS_DB_URL: expected a sqlite:/// or postgresql:// URL, got {value!r}", value=backend
    )


# ``connection.info[DEFERRED]``: writes a repository holds back to send many rows in one statement
# (the engine's step writes); an object with ``flush()``. They go out right before the transaction
# commits (inside it) and are dropped when it rolls back or the connection returns to the pool.
DEFERRED = "isthmus.deferred_writes"


def _with_deferred_writes(engine: Engine) -> Engine:
    @event.listens_for(engine, "commit")
    def _flush(connection: Any) -> None:
        pending = connection.info.pop(DEFERRED, None)
        if pending is None:
            return
        try:
            pending.flush()
        except BaseException:
            # SQLAlchemy counts the transaction as ended once COMMIT was asked for and would hand
            # the connection back to the pool without a rollback: roll it back here.
            connection.connection.dbapi_connection.rollback()
            raise

    @event.listens_for(engine, "rollback")
    def _drop(connection: Any) -> None:
        connection.info.pop(DEFERRED, None)

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info.pop(DEFERRED, None)

    return engine


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


class _Plan:
    __slots__ = ("build", "many", "read", "sql")

    def __init__(
        self,
        sql: str,
        build: Callable[[Mapping[str, Any]], Any],
        many: _Many | None = None,
        read: Callable[[list[Any]], list[Any]] | None = None,
    ) -> None:
        self.sql = sql
        self.build = build  # caller's values → DBAPI parameters (tuple or dict)
        self.many = many
        self.read = read  # a SELECT: DBAPI rows → rows with the column labels as attributes


def _reader(columns: Sequence[Any], dialect: Any) -> Callable[[list[Any]], list[Any]]:
    """DBAPI rows → named tuples with the values Core would return (the columns' own result
    processors: UTC datetimes, JSON text on SQLite, booleans), made for these columns."""
    names: dict[str, Any] = {"Row": namedtuple("Row", [c.name for c in columns])}
    parts = []
    for index, column in enumerate(columns):
        processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if processor is None:
            parts.append(f"r[{index}]")
        else:
            names[f"p{index}"] = processor
            parts.append(f"p{index}(r[{index}])")
    read: Callable[[list[Any]], list[Any]] = eval(  # noqa: S307 — our own names
        f"lambda rows: [Row({', '.join(parts)}) for r in rows]", names
    )
    return read


class _Many:
    """PostgreSQL: many rows in one round trip instead of one per row — inserts by ``COPY``,
    updates as multi-row ``UPDATE … FROM (VALUES …)`` statements sent in one pipeline.

    Update statements come in a few fixed sizes (256, 64, 16, 4, 1 rows), so the server and
    psycopg see the same few texts again; they are written with PostgreSQL's own ``$n``
    placeholders and run on a raw cursor, because psycopg re-parses ``%s`` texts longer than 4 kB
    at every execute. (Measured on the engine bench, 2,000 instances: ``INSERT … VALUES`` in
    those sizes cost the server more to parse and plan than to run; ``COPY`` has no plan.)"""

    __slots__ = ("build", "casts", "copy", "head", "tail", "texts")

    def __init__(
        self,
        head: str,
        casts: list[str],
        tail: str,
        build: Callable[[Mapping[str, Any]], Any],
        copy: str | None = None,
    ):
        self.head, self.casts, self.tail, self.build = head, casts, tail, build
        self.copy = copy  # an insert: ``COPY table (columns) FROM STDIN``
        self.texts: dict[int, str] = {}

    def text(self, size: int) -> str:
        found = self.texts.get(size)
        if found is None:
            width = len(self.casts)
            rows = (
                "(" + ", ".join(f"${r * width + i + 1}{cast}" for i, cast in enumerate(self.casts)) + ")"
                for r in range(size)
            )
            found = self.texts[size] = self.head + ", ".join(rows) + self.tail
        return found

    def run(self, connection: Any, rows: Sequence[Mapping[str, Any]]) -> int:
        from psycopg import Pipeline, RawCursor

        if self.copy is not None:
            # Inserts go by COPY: no statement for the server to parse and plan (a 256-row
            # VALUES list with thousands of parameters cost the server more to plan than to run)
            # and one stream whatever the number of rows.
            build = self.build
            try:
                text: str | None = _copy_text([build(row) for row in rows])
            except _NotPlain:
                text = None
            with connection.cursor() as copying:
                with copying.copy(self.copy) as stream:
                    if text is not None:
                        stream.write(text)
                    else:
                        for row in rows:
                            stream.write_row(build(row))
                return int(copying.rowcount)
        chunks: list[tuple[str, list[Any]]] = []
        first = 0
        while first < len(rows):
            size = next(n for n in _MANY_SIZES if n <= len(rows) - first and n * len(self.casts) <= 65_000)
            params: list[Any] = []
            for row in rows[first : first + size]:
                params.extend(self.build(row))
            chunks.append((self.text(size), params))
            first += size
        if len(chunks) == 1 or not Pipeline.is_supported():  # pipelines need libpq ≥ 14
            count = 0
            with RawCursor(connection) as cursor:
                for text, params in chunks:
                    cursor.execute(text, params)
                    count += int(cursor.rowcount)
            return count
        # several statements (200 rows = 64 + 64 + 64 + 4 + 4): sent in pipeline mode, one round
        # trip for all; each on its own cursor, whose row count is there once the pipeline syncs
        cursors = [RawCursor(connection) for _ in chunks]
        with connection.pipeline():
            for cursor, (text, params) in zip(cursors, chunks, strict=True):
                cursor.execute(text, params)
        count = sum(int(cursor.rowcount) for cursor in cursors)
        for cursor in cursors:
            cursor.close()
        return count


_MANY_SIZES = (256, 64, 16, 4, 1)


class _NotPlain(Exception):
    """A value :func:`_copy_field` does not write itself: the rows go through psycopg's dumpers."""


# COPY's text format: backslash, tab, newline and carriage return escaped; NULL is \N
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escaped(text: str) -> str:
    """``text`` in COPY's text format. Most texts have nothing to escape, and four ``in`` scans
    cost far less than ``str.translate``'s dict lookup per character."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _copy_field(value: Any) -> str:
    """One field of a COPY text line for the values the engine's tables bind (text, integers,
    booleans, aware datetimes, JSON wrappers with their serialiser), written as one text instead of
    psycopg's per-value ``write_row`` (the largest single client cost in the engine bench's
    profile after the COPY change; interleaved A/B at 2,000 instances: server CPU 0.46–0.49 against
    0.51–0.64 ms per instance, client within the noise). Anything else raises :class:`_NotPlain`."""
    kind = type(value)
    if kind is str:
        return _escaped(value)
    if value is None:
        return "\\N"
    if kind is int:
        return str(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is datetime and value.tzinfo is not None:
        return value.isoformat()  # type: ignore[no-any-return]
    if kind.__module__ == "psycopg.types.json":  # Json/Jsonb; no serialiser of its own = the
        dumps = value.dumps or dump_json  # connection's, which make_engine fixes to dump_json
        return _escaped(str(dumps(value.obj)))
    raise _NotPlain


def _copy_text(built: list[Any]) -> str:
    """The COPY text of ``built`` rows (tuples of values): :func:`_copy_field` for each field,
    with two shortcuts that leave the text as it was (``tests/adapters/storage/test_copy_text.py``
    compares them): a text without a character to escape is written as it is (``str.translate``
    looks every character up in a dict: ~0.6 µs for a 20-character activity name, most of the
    history lines' cost), and any other value is converted once per object — the lines of a
    step share their ``now`` and their attributes dict, whose ISO text and JSON were made again
    for every line. Keyed by ``id``: ``built`` keeps every value alive for the whole call, so no
    id is reused for another object meanwhile."""
    seen: dict[int, str] = {}
    lines = []
    for values in built:
        fields = []
        for value in values:
            if type(value) is str:
                fields.append(_escaped(value))
            elif value is None:
                fields.append("\\N")
            else:
                found = seen.get(id(value))
                if found is None:
                    found = seen[id(value)] = _copy_field(value)
                fields.append(found)
        lines.append("\t".join(fields))
    lines.append("")
    return "\n".join(lines)


# a psycopg placeholder as SQLAlchemy renders it: %(name)s with an optional cast
_PLACEHOLDER = re.compile(r"%\((\w+)\)s(::(?:TIMESTAMP WITH TIME ZONE|[A-Z]+(?:\(\d+\))?))?")


def _many_form(sql: str, slots: list[_Slot]) -> _Many | None:
    """The multi-row form of a one-row INSERT or UPDATE compiled for psycopg, else None."""
    found = list(_PLACEHOLDER.finditer(sql))
    by_name = {slot[0]: slot for slot in slots}
    if (
        not found
        or any(m.group(1) not in by_name for m in found)
        or len({m.group(1) for m in found}) != len(found)
    ):
        return None
    ordered = [by_name[m.group(1)] for m in found]
    build = _builder(ordered, positional=True)
    casts = [m.group(2) or "" for m in found]
    if sql.startswith("INSERT ") and " VALUES (" in sql and " RETURNING " not in sql:
        head = sql[: sql.index(" VALUES (")]
        return _Many(head + " VALUES ", casts, "", build, "COPY" + head[len("INSERT INTO") :] + " FROM STDIN")
    if sql.startswith("UPDATE ") and " WHERE " in sql and " FROM " not in sql and "$" not in sql:
        body = _PLACEHOLDER.sub(lambda m: "v." + m.group(1), sql)
        before, after = body.split(" WHERE ", 1)
        columns = ", ".join(m.group(1) for m in found)
        return _Many(before + " FROM (VALUES ", casts, f") AS v({columns}) WHERE " + after, build)
    return None


_Slot = tuple[str, str | None, Any, Any]  # rendered name, caller's key (None: constant), constant, processor


def _last_one(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor`` remembering its last value: the rows of a batch repeat the same ``now`` and
    the same attribute dicts. One tuple swap, so threads never see a half-written pair."""
    last: tuple[Any, Any] = (object(), None)

    def process(value: Any) -> Any:
        nonlocal last
        seen, out = last
        if seen is value:
            return out
        out = processor(value)
        last = (value, out)
        return out

    return process


def _builder(slots: list[_Slot], positional: bool) -> Callable[[Mapping[str, Any]], Any]:
    """A function made for this statement: one tuple/dict display, no loop over slots per row."""
    names: dict[str, Any] = {}
    parts = []
    for index, (name, key, const, processor) in enumerate(slots):
        if key is None:
            names[f"c{index}"] = const
            part = f"c{index}"
        elif processor is None:
            part = f"v[{key!r}]"
        else:
            names[f"p{index}"] = _last_one(processor)
            part = f"p{index}(v[{key!r}])"
        parts.append(part if positional else f"{name!r}: {part}")
    body = f"({', '.join(parts)},)" if positional else "{" + ", ".join(parts) + "}"
    built: Callable[[Mapping[str, Any]], Any] = eval(f"lambda v: {body}", names)  # noqa: S307 — our own names
    return built


class Prepared:
    """A statement compiled once per dialect and run on the DBAPI cursor of the caller's connection.

    Why: on the engine's hot path (thousands of steps a second) building a Core statement, its
    cache key and its execution context costs ~100 µs per statement — ten times what SQLite needs
    to run it. The SQL text and the bind processors (UTC datetimes, JSON) come from SQLAlchemy, so
    the values stored are the ones Core would store; the statement runs inside the connection's
    current transaction. Bind with ``bindparam("name")``; constants in the statement are kept."""

    def __init__(
        self, statement: Any, *, as_is: frozenset[str] = frozenset(), each_row: str | None = None
    ) -> None:
        # a statement, or a function of the dialect's name that makes it (a list of ids is an
        # array on PostgreSQL and JSON on SQLite: see :func:`ids_in`)
        self._statement = statement
        self._as_is = as_is  # binds the caller passes already converted (e.g. JSON text)
        # held back: when set, every row must hit one row, else the commit fails with this Conflict
        self.each_row = each_row
        self._plans: dict[str, _Plan] = {}

    def plan(self, dialect: Any) -> _Plan:
        found = self._plans.get(dialect.name)
        if found is not None:
            return found
        statement = self._statement(dialect.name) if callable(self._statement) else self._statement
        compiled = statement.compile(dialect=dialect)
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        names = list(compiled.positiontup) if compiled.positional else list(by_name)
        slots: list[_Slot] = []
        for name in names:
            bind = by_name[name]
            processor = (
                None if bind.key in self._as_is else bind.type.dialect_impl(dialect).bind_processor(dialect)
            )
            if bind.required:
                slots.append((name, bind.key, None, processor))
            else:
                value = bind.effective_value
                slots.append((name, None, processor(value) if processor else value, None))
        many = None if compiled.positional else _many_form(compiled.string, slots)
        read = (
            _reader(statement.selected_columns, dialect) if getattr(statement, "is_select", False) else None
        )
        made = _Plan(compiled.string, _builder(slots, bool(compiled.positional)), many, read)
        self._plans[dialect.name] = made
        return made

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[Any]:
        """Run a SELECT; its rows as named tuples (attributes: the column labels)."""
        plan = self.plan(connection.dialect)
        assert plan.read is not None, "rows() is for SELECT statements"
        cursor = _dbapi(connection).cursor()
        cursor.execute(plan.sql, plan.build(values))
        found = plan.read(cursor.fetchall())
        cursor.close()
        return found

    def execute(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """Run once; returns the DBAPI cursor (``rowcount``, ``lastrowid``, ``fetchone``)."""
        plan = self.plan(connection.dialect)
        cursor = _dbapi(connection).cursor()
        cursor.execute(plan.sql, plan.build(values))
        return cursor

    def executemany(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run for every row in one call (psycopg pipelines them); the total row count."""
        if not rows:
            return 0
        plan = self.plan(connection.dialect)
        cursor = _dbapi(connection).cursor()
        if plan.many is not None and len(rows) > 1:
            count = plan.many.run(_dbapi(connection), rows)
        else:
            cursor.executemany(plan.sql, [plan.build(r) for r in rows])
            count = int(cursor.rowcount)
        cursor.close()
        return count


def ids_in(column: Any, dialect_name: str) -> Any:
    """``column IN (the list bound as "ids")`` with one fixed statement text for any number of
    ids: ``= ANY(array)`` on PostgreSQL, ``IN (SELECT value FROM json_each(JSON))`` on SQLite
    (an expanding ``IN`` makes a new text, and a new statement for the server, per list length)."""
    if dialect_name == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(column.type)))
    values: Any = select(literal_column("value")).select_from(func.json_each(bindparam("ids", type_=JSON())))
    return column.in_(values)


def _dbapi(connection: Connection) -> Any:
    """The DBAPI connection under ``connection`` (its transaction already begun by SQLAlchemy)."""
    return connection.connection.dbapi_connection


class DeferredWrites:
    """The writes of one transaction that need no answer before it commits, sent together.

    Kept in ``connection.info[DEFERRED]``; the engine's commit hook sends them inside the
    transaction, right before COMMIT, so they commit or roll back with everything else. A
    repository reading a table it holds writes for sends them first (:func:`send_deferred`)."""

    def __init__(self, db: Connection) -> None:
        self.db = db
        self.ops: list[tuple[Prepared, dict[str, Any]]] = []
        self.known: dict[Any, Any] = {}  # rows read or written in this transaction, by key
        self.unsent: dict[str, dict[str, Any]] = {}  # key → its held-back row (to update in place)
        self.marks: set[Any] = set()  # what the held-back rows touch, for ordering checks
        # new_id: SQLite — the next free id per table; PostgreSQL — the last block size and the
        # sequence values fetched and not used yet
        self.next_ids: dict[str, int] = {}
        self.id_pools: dict[str, list[int]] = {}
        self.ids_used: dict[str, int] = {}

    def add(self, statement: Prepared, row: dict[str, Any]) -> None:
        self.ops.append((statement, row))

    def flush(self) -> None:
        """Send the held-back writes: all rows of one statement in one ``executemany``, the
        statements in the order first used. Rows of one table keep their order; callers send
        the writes first when a row must follow another one of a different statement."""
        ops, self.ops = self.ops, []
        self.unsent.clear()
        self.marks.clear()
        groups: dict[Prepared, list[dict[str, Any]]] = {}
        for statement, row in ops:
            groups.setdefault(statement, []).append(row)
        for statement, rows in groups.items():
            try:
                count = statement.executemany(self.db, rows)
            except self.db.dialect.loaded_dbapi.IntegrityError as error:
                self.known.clear()
                raise Conflict("a row written in this transaction exists already") from error
            if statement.each_row and count != len(rows):
                self.known.clear()
                raise Conflict(statement.each_row)


def deferred(db: Connection, info: dict[Any, Any] | None = None) -> DeferredWrites:
    """This transaction's held-back writes (sent by the commit hook, dropped on rollback).
    ``info``: ``db.info`` if the caller kept it (a repository does: the engine's steps ask tens of
    thousands of times a second, and ``Connection.info`` is three property lookups deep)."""
    if info is None:
        info = db.info
    found: DeferredWrites | None = info.get(DEFERRED)
    if found is None or found.db is not db:
        found = DeferredWrites(db)
        info[DEFERRED] = found
    return found


def send_deferred(db: Connection, info: dict[Any, Any] | None = None) -> None:
    """Send the held-back writes now (before a read or a write that must come after them)."""
    found: DeferredWrites | None = (db.info if info is None else info).get(DEFERRED)
    if found is not None and found.ops:
        found.flush()


@contextmanager
def dbapi_cursor(db: Connection, *, alone: bool = False, row_factory: Any = None) -> Iterator[Any]:
    """A cursor on the DBAPI connection under ``db``, after this transaction's held-back writes
    (statements whose Core building and row processing would cost more than the database does).

    ``alone`` (PostgreSQL): the caller's one statement is the whole unit of work's writing. Why:
    psycopg opens a transaction with a ``BEGIN`` round trip of its own and closes it with a
    ``COMMIT`` — three round trips for a transaction of one statement, and on the hot paths (a
    webhook group's insert, a delivery claim) each round trip is a wait for the server and then for
    the GIL. When nothing of this unit of work has reached the server yet, the statement runs in
    autocommit mode instead: PostgreSQL makes a single statement atomic on its own (its
    data-modifying CTEs included, and a ``pg_notify`` in it is sent at its commit), and the unit
    of work's commit then finds no transaction and sends nothing. Measured at 1,000 webhooks a
    second: a group commit's wall time 4.0 → 2.4 ms at the median (bench/RESULTS.md, round 6).
    The caller writes nothing after it in this unit of work (a later statement would begin a
    transaction of its own); when something was sent before, the statement simply joins that
    transaction.
    """
    send_deferred(db)
    dbapi = _dbapi(db)
    alone = alone and dbapi.pgconn.transaction_status == TransactionStatus.IDLE
    if alone:
        dbapi.autocommit = True
    cursor = dbapi.cursor() if row_factory is None else dbapi.cursor(row_factory=row_factory)
    try:
        yield cursor
    finally:
        cursor.close()
        if alone:
            dbapi.autocommit = False


_ID_BLOCK_MAX = 256
# PostgreSQL: how many ids of each table the last transaction took — a batch of 200 steps needs
# about as many as the one before did (a hint for the first block's size, never an id)
_ID_HINTS: dict[str, int] = {}


def new_id(db: Connection, table: str) -> int:
    """A primary key for an insert into ``table`` (an autoincrementing ``id``) chosen before the
    row is sent, so the insert can be held back.

    PostgreSQL: from the table's sequence, fetched in blocks that double within a transaction (1,
    2, 4 … 256 ids: one round trip for many rows, and at most as many ids left unused as used
    when the transaction ends — a sequence value is never handed out twice, gaps are harmless).
    A transaction's first block is as large as the last transaction's use (a batch needs about as
    many ids as the one before: one or two round trips instead of nine; what it leaves unused is
    bounded by what the previous one used).
    SQLite: the writer holds the database lock for the whole transaction, so counting on from
    ``max(id) + 1`` is safe as long as every insert into ``table`` takes its id from here."""
    writes = deferred(db)
    if db.dialect.name == "postgresql":
        pool = writes.id_pools.setdefault(table, [])
        if not pool:
            last = writes.next_ids.get(table)
            # this transaction's first block: as many as the last transaction used
            size = _ID_HINTS.get(table, 1) if last is None else min(_ID_BLOCK_MAX, 2 * last)
            writes.next_ids[table] = size
            cursor = _dbapi(db).cursor()
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", (table, size)
            )
            pool.extend(sorted((int(r[0]) for r in cursor.fetchall()), reverse=True))
        used = writes.ids_used[table] = writes.ids_used.get(table, 0) + 1
        _ID_HINTS[table] = min(_ID_BLOCK_MAX, used)
        return pool.pop()
    found = writes.next_ids.get(table)
    if found is None:
        cursor = _dbapi(db).cursor()
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608 — our table names
        found = int(cursor.fetchone()[0]) + 1
    writes.next_ids[table] = found + 1
    return found
