"""Execute migration plans on SQL targets: batches with checkpoints, watermarks, verification, rollback.

The run journal lives **in the target database** (tables ``isthmus_migration_runs`` and
``isthmus_migration_touched``), because only then can each batch's rows, the record of what it
touched (inserted keys, pre-images of updated rows) and the checkpoint commit in one transaction: a
crash at any point leaves either the whole batch or none of it, and a resumed run starts after the
last committed batch — no row lost or doubled, without a two-phase commit across two databases.
Rollback replays the journal backwards (delete what was inserted, restore pre-images), which leaves
the target checksum-identical to its state before the run.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import sqlalchemy as sa

from isthmus.adapters.storage import normalise_url
from isthmus.adapters.tabular import Registry, read_source, resolve_system
from isthmus.errors import Conflict, InvalidInput, Location, NotFound
from isthmus.quality import MigrationPlan, check_columns, map_frame, range_checksums, row_digest

_META = sa.MetaData()
RUNS = sa.Table(
    "isthmus_migration_runs", _META,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("plan", sa.String(16), nullable=False),
    sa.Column("target_table", sa.String(200), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("checkpoint", sa.Text),
    sa.Column("watermark", sa.Text),
    sa.Column("schema", sa.Text),
    sa.Column("inserted", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("batches", sa.Integer, nullable=False, default=0),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
)  # fmt: skip
TOUCHED = sa.Table(
    "isthmus_migration_touched", _META,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("pre_image", sa.Text),
)  # fmt: skip

BatchHook = Callable[[int], None]


def _encode(value: Any) -> Any:
    """JSON with type tags, so a restored pre-image has exactly the types it had."""
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        tag, text = next(iter(value.items()))
        decoders: dict[str, Callable[[str], Any]] = {
            "$decimal": Decimal, "$datetime": datetime.fromisoformat, "$date": date.fromisoformat,
            "$bytes": base64.b64decode,
        }  # fmt: skip
        return decoders[tag](text)
    return value


@dataclass
class RunReport:
    run_id: str
    mode: str
    status: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    batches: int = 0
    resumed_from: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)


class Target:
    """A target table and its journal, on one engine."""

    def __init__(self, spec: str, plan: MigrationPlan) -> None:
        url, _, name = spec.partition("#")
        if "://" not in url or not name:
            raise InvalidInput("the target must be URL#table", location=plan.where("target"))
        self.plan = plan
        self.engine = sa.create_engine(normalise_url(url))
        schema, _, table = name.rpartition(".")
        try:
            self.table = sa.Table(table, sa.MetaData(), schema=schema or None, autoload_with=self.engine)
        except sa.exc.NoSuchTableError as error:
            raise InvalidInput("the target table {table!r} does not exist", location=plan.where("target"),
                               table=name) from error  # fmt: skip
        self.name = name
        self.key = self.table.c.get(plan.key, None)
        _META.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    def _key_type(self) -> type | None:
        """The key's Python type when lookups can use the column's index directly (not through CAST)."""
        assert self.key is not None
        try:
            kind = self.key.type.python_type
        except NotImplementedError:
            return None
        return kind if kind in (str, int, Decimal) else None

    def key_value(self, value: Any) -> Any:
        """A key (as the mapping or the journal holds it) in the form :meth:`probe` compares with."""
        kind = self._key_type()
        return str(value) if kind is None else kind(str(value))

    def probe(self) -> sa.ColumnElement[Any]:
        """The key column itself (index lookups) or, for other key types, the key as text."""
        assert self.key is not None
        return self.key if self._key_type() is not None else sa.cast(self.key, sa.Text)

    def existing(self, conn: sa.Connection, keys: Sequence[Any]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        probe = self.probe()
        for start in range(0, len(keys), 500):
            chunk = [self.key_value(k) for k in keys[start : start + 500]]
            rows = conn.execute(sa.select(self.table).where(probe.in_(chunk))).mappings()
            found.update({str(r[self.plan.key]): dict(r) for r in rows})
        return found

    def keys(self, conn: sa.Connection) -> set[str]:
        """Every key the target holds now, as text."""
        assert self.key is not None
        return {str(k) for k in conn.execute(sa.select(self.key)).scalars()}

    def rows_sorted(self, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        assert self.key is not None
        cols = [self.table.c[c] for c in columns]
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(*cols).order_by(self.key))]

    def checksum(self) -> str:
        """A digest of every row of the target (all columns, ordered by key)."""
        rows = self.rows_sorted([c.name for c in self.table.columns])
        return row_digest([row_digest(r) for r in rows])[:32]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _prepare(plan: MigrationPlan) -> tuple[pl.DataFrame, pl.DataFrame, Target]:
    source = read_source(plan.source)
    target = Target(plan.target, plan)
    try:
        check_columns(plan, source.columns, [c.name for c in target.table.columns])
        return source, map_frame(plan, source), target
    except BaseException:
        target.close()
        raise


def _changes(
    target: Target, conn: sa.Connection, batch: pl.DataFrame, present: set[str]
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Split a batch into inserts and real updates; ``present`` holds the keys the target had at the start.

    Only keys in ``present`` are looked up, so a load into an empty or fresh table issues no lookups
    at all (on PostgreSQL a table created moments ago has no statistics yet, and the planner would
    scan it for every batch's lookup until autovacuum analyses it).
    """
    keys = [k for k in batch.get_column(target.plan.key).to_list() if str(k) in present]
    existing = target.existing(conn, keys)
    inserts, updates = [], []
    for row in batch.to_dicts():
        before = existing.get(str(row[target.plan.key]))
        if before is None:
            inserts.append(row)
        elif any(
            str(before[c]) != str(v) if v is not None else before[c] is not None for c, v in row.items()
        ):
            updates.append((row, before))
    return inserts, updates


def dry_run(plan: MigrationPlan, *, samples: int = 5) -> RunReport:
    """Counts of what a full run would insert, update and leave alone, with samples; writes nothing."""
    _, mapped, target = _prepare(plan)
    try:
        with target.engine.connect() as conn:
            inserts, updates = _changes(target, conn, mapped, target.keys(conn))
    finally:
        target.close()
    report = RunReport(
        "", "dry-run", "planned", len(inserts), len(updates), mapped.height - len(inserts) - len(updates)
    )
    report.samples = [{"action": "insert", "row": r} for r in inserts[:samples]] + [
        {"action": "update", "row": r, "before": {k: str(v) for k, v in b.items()}}
        for r, b in updates[:samples]
    ]
    return report


def _signature(conn: sa.Connection, target: Target, source: Sequence[str]) -> str:
    """Both sides' columns (and the target's types) as the database reports them now."""
    found = sa.inspect(conn).get_columns(target.table.name, schema=target.table.schema)
    return json.dumps({"source": list(source), "target": [[c["name"], str(c["type"])] for c in found]})


def _same_schema(now: str, expected: str, run_id: str) -> None:
    """Stop before writing when either side's columns changed since the run started."""
    if now != expected:
        side = "source" if json.loads(now)["source"] != json.loads(expected)["source"] else "target"
        raise Conflict(
            "the {side} schema changed since run {run_id} started; nothing more was written "
            "(finish it with the old schema or roll it back)",
            side=side,
            run_id=run_id,
        )


def _open_run(
    target: Target, conn: sa.Connection, mode: str, signature: str
) -> tuple[str, str | None, str | None]:
    """The unfinished run of this plan (to resume) or a new one; and the watermark of the last done run."""
    plan = target.plan.fingerprint
    open_run = conn.execute(
        sa.select(RUNS.c.run_id, RUNS.c.checkpoint, RUNS.c.schema).where(
            RUNS.c.plan == plan, RUNS.c.status == "running"
        )
    ).first()
    last_mark = conn.execute(
        sa.select(sa.func.max(RUNS.c.watermark)).where(RUNS.c.plan == plan, RUNS.c.status == "done")
    ).scalar()
    if open_run is not None:
        _same_schema(signature, open_run.schema, open_run.run_id)
        return open_run.run_id, open_run.checkpoint, last_mark
    run_id = uuid.uuid4().hex
    conn.execute(RUNS.insert().values(run_id=run_id, plan=plan, target_table=target.name, mode=mode, status="running",
                                      schema=signature, inserted=0, updated=0, batches=0, started_at=_now()))  # fmt: skip
    return run_id, None, last_mark


def _pending(plan: MigrationPlan, source: pl.DataFrame, mapped: pl.DataFrame, checkpoint: str | None,
             last_mark: str | None, incremental: bool) -> pl.DataFrame:  # fmt: skip
    if incremental:
        if not plan.watermark:
            raise InvalidInput(
                "incremental sync needs a 'watermark' in the plan", location=plan.where("watermark")
            )
        marks = source.select(pl.col(plan.watermark).cast(pl.String)).to_series()
        keep = marks > (last_mark or "") if last_mark else pl.Series([True] * source.height)
        mapped = map_frame(plan, source.filter(keep))
    if checkpoint is not None:
        resume_key = _decode(json.loads(checkpoint))
        position = mapped.with_row_index("_i").filter(pl.col(plan.key) == resume_key).get_column("_i")
        if position.len() == 0:
            raise Conflict(
                "the source changed since the checkpoint: key {key!r} is gone", key=str(resume_key)
            )
        mapped = mapped.slice(int(position[0]) + 1)
    return mapped


def _apply_batch(
    target: Target, conn: sa.Connection, run_id: str, batch: pl.DataFrame, present: set[str]
) -> tuple[int, int]:
    """Write one batch and journal it: inserted keys, the full pre-image of each updated row."""
    inserts, updates = _changes(target, conn, batch, present)
    key = target.plan.key
    seq = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(TOUCHED.c.seq), 0)).where(TOUCHED.c.run_id == run_id)
    ).scalar_one()
    journal = [
        {"run_id": run_id, "seq": seq + n, "key": str(row[key]), "action": "update",
         "pre_image": json.dumps({k: _encode(v) for k, v in before.items()}, ensure_ascii=False)}
        for n, (row, before) in enumerate(updates, 1)
    ]  # fmt: skip
    seq += len(updates)
    journal += [
        {"run_id": run_id, "seq": seq + n, "key": str(row[key]), "action": "insert", "pre_image": None}
        for n, row in enumerate(inserts, 1)
    ]
    if updates:
        # executemany: one statement, the key in its own parameter so the SET clause takes the columns.
        statement = target.table.update().where(target.probe() == sa.bindparam("_key"))
        conn.execute(statement, [{**row, "_key": target.key_value(row[key])} for row, _ in updates])
    if inserts:
        conn.execute(target.table.insert(), inserts)
    if journal:
        conn.execute(TOUCHED.insert(), journal)
    return len(inserts), len(updates)


def run(plan: MigrationPlan, *, incremental: bool = False, before_commit: BatchHook | None = None,
        progress: Callable[[int, int], None] | None = None) -> RunReport:  # fmt: skip
    """Load the source into the target in batches; resume an unfinished run of the same plan.

    ``before_commit(batch_number)`` runs inside each batch's transaction (tests crash there).
    """
    source, mapped, target = _prepare(plan)
    try:
        with target.engine.begin() as conn:
            signature = _signature(conn, target, source.columns)
            run_id, checkpoint, last_mark = _open_run(
                target, conn, "incremental" if incremental else "full", signature
            )
            present = target.keys(conn)
        pending = _pending(plan, source, mapped, checkpoint, last_mark, incremental)
        report = RunReport(
            run_id, "incremental" if incremental else "full", "running", resumed_from=checkpoint
        )
        total = pending.height
        for number, start in enumerate(range(0, total, plan.batch_size), 1):
            batch = pending.slice(start, plan.batch_size)
            with target.engine.begin() as conn:
                _same_schema(_signature(conn, target, source.columns), signature, run_id)
                inserted, updated = _apply_batch(target, conn, run_id, batch, present)
                last = json.dumps(_encode(batch.get_column(plan.key)[-1]))
                conn.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(
                    checkpoint=last, inserted=RUNS.c.inserted + inserted, updated=RUNS.c.updated + updated,
                    batches=RUNS.c.batches + 1))  # fmt: skip
                if before_commit is not None:
                    before_commit(number)
            report.inserted += inserted
            report.updated += updated
            report.batches += 1
            if progress is not None:
                progress(min(start + plan.batch_size, total), total)
        mark = None
        if plan.watermark and source.height:
            mark = str(source.get_column(plan.watermark).cast(pl.String).max())
        with target.engine.begin() as conn:
            conn.execute(
                RUNS.update()
                .where(RUNS.c.run_id == run_id)
                .values(status="done", finished_at=_now(), watermark=mark)
            )
        report.status = "done"
        return report
    finally:
        target.close()


def verify(plan: MigrationPlan, *, ranges: int = 16) -> dict[str, Any]:
    """Row counts and per-key-range checksums of the mapped source and the target (as text)."""
    _, mapped, target = _prepare(plan)
    try:
        columns = [plan.key, *[c for c in plan.mapping if c != plan.key]]
        target_rows = [tuple(None if v is None else str(v) for v in r) for r in target.rows_sorted(columns)]
    finally:
        target.close()
    source_rows = [
        tuple(None if v is None else str(v) for v in r) for r in mapped.select(columns).iter_rows()
    ]
    # Rows the target held that the source never had are not this migration's: counted, not compared.
    keys = {r[0] for r in source_rows}
    target_only = sum(1 for r in target_rows if r[0] not in keys)
    target_rows = [r for r in target_rows if r[0] in keys]
    target_rows.sort(key=lambda r: str(r[0]))
    source_rows.sort(key=lambda r: str(r[0]))
    left, right = range_checksums(source_rows, ranges=ranges), range_checksums(target_rows, ranges=ranges)
    checked = [{"first": a[0], "last": a[1], "source": a[2], "target": b[2] if b else None, "ok": b == a}
               for a, b in zip(left, right + [None] * (len(left) - len(right)), strict=False)]  # fmt: skip
    ok = len(source_rows) == len(target_rows) and left == right
    return {
        "ok": ok,
        "source_rows": len(source_rows),
        "target_rows": len(target_rows),
        "target_only": target_only,
        "ranges": checked,
    }


def _undo(target: Target, conn: sa.Connection, touched: Sequence[sa.Row[Any]]) -> None:
    """Delete what the run inserted and restore what it updated, in bulk (executemany) statements.

    A run touches each key once (a resumed run starts after its checkpoint), so the order of the
    journal does not matter inside one transaction.
    """
    probe = target.probe()
    deleted = [target.key_value(e.key) for e in touched if e.action == "insert"]
    images = [{k: _decode(v) for k, v in json.loads(e.pre_image).items()} | {"_key": target.key_value(e.key)}
              for e in touched if e.action == "update"]  # fmt: skip
    for start in range(0, len(deleted), 1000):
        conn.execute(target.table.delete().where(probe.in_(deleted[start : start + 1000])))
    for start in range(0, len(images), 10_000):
        conn.execute(
            target.table.update().where(probe == sa.bindparam("_key")), images[start : start + 10_000]
        )


def rollback(plan: MigrationPlan, run_id: str) -> dict[str, Any]:
    """Undo run ``run_id``: delete what it inserted, restore the pre-images of what it updated."""
    target = Target(plan.target, plan)
    try:
        if target.key is None:
            raise InvalidInput(
                "the target has no key column {key!r}", location=plan.where("key"), key=plan.key
            )
        with target.engine.begin() as conn:
            status = conn.execute(sa.select(RUNS.c.status).where(RUNS.c.run_id == run_id)).scalar()
            if status is None:
                raise NotFound("no migration run {run_id} on {target}", location=Location(file=plan.file), run_id=run_id,
                               target=target.name)  # fmt: skip
            if status == "rolled_back":
                raise Conflict("run {run_id} is already rolled back", run_id=run_id)
            touched = conn.execute(
                sa.select(TOUCHED).where(TOUCHED.c.run_id == run_id).order_by(TOUCHED.c.seq.desc())
            ).all()
            _undo(target, conn, touched)
            conn.execute(
                RUNS.update().where(RUNS.c.run_id == run_id).values(status="rolled_back", finished_at=_now())
            )
        return {"run_id": run_id, "status": "rolled_back", "undone": len(touched)}
    finally:
        target.close()


def runs(plan: MigrationPlan) -> list[dict[str, Any]]:
    """The runs recorded in the target's journal, newest first."""
    target = Target(plan.target, plan)
    try:
        with target.engine.connect() as conn:
            rows = conn.execute(sa.select(RUNS).order_by(RUNS.c.started_at.desc())).mappings().all()
        return [dict(r) for r in rows]
    finally:
        target.close()


def target_checksum(plan: MigrationPlan) -> str:
    target = Target(plan.target, plan)
    try:
        return target.checksum()
    finally:
        target.close()


def check(plan: MigrationPlan) -> None:
    """Check the plan against both sides without writing: columns, FEEL, the key, and — when a run
    of the plan is unfinished — that neither side's schema changed since it started."""
    source, _, target = _prepare(plan)
    try:
        with target.engine.connect() as conn:
            signature = _signature(conn, target, source.columns)
            query = sa.select(RUNS.c.run_id, RUNS.c.schema).where(
                RUNS.c.plan == plan.fingerprint, RUNS.c.status == "running"
            )
            open_run = conn.execute(query).first()
        if open_run is not None:
            _same_schema(signature, open_run.schema, open_run.run_id)
    finally:
        target.close()


def resolved(plan: MigrationPlan, registry: Registry | None) -> MigrationPlan:
    """``plan`` with its ``system:NAME#table`` source and target resolved to ``URL#table``."""
    source, target = (resolve_system(s, registry) for s in (plan.source, plan.target))
    return plan if (source, target) == (plan.source, plan.target) else replace(plan, source=source, target=target)  # fmt: skip


class SqlMigrations:
    """This module as the ``MigrationExecutor`` port of ``isthmus.services.quality``.

    ``registry`` resolves ``system:NAME#table`` sources and targets (see ``_connected.py``) each time
    a plan is used, so a plan file names systems, never their addresses or secrets."""

    def __init__(self, registry: Registry | None = None) -> None:
        self._registry = registry

    def _resolved(self, plan: MigrationPlan) -> MigrationPlan:
        return resolved(plan, self._registry)

    def check(self, plan: MigrationPlan) -> None:
        check(self._resolved(plan))

    def dry_run(self, plan: MigrationPlan) -> dict[str, Any]:
        return asdict(dry_run(self._resolved(plan)))

    def run(self, plan: MigrationPlan, *, incremental: bool, progress: Callable[[int, int], None]) -> dict[str, Any]:  # fmt: skip
        return asdict(run(self._resolved(plan), incremental=incremental, progress=progress))

    def verify(self, plan: MigrationPlan) -> dict[str, Any]:
        return verify(self._resolved(plan))

    def rollback(self, plan: MigrationPlan, run_id: str) -> dict[str, Any]:
        return rollback(self._resolved(plan), run_id)

    def runs(self, plan: MigrationPlan) -> list[dict[str, Any]]:
        return runs(self._resolved(plan))
