"""PostgreSQL: a chunk's new keys COPYed straight into the table, probed and guarded by the key's
unique index; every other case takes the staged ``INSERT … ON CONFLICT``. The rows in the table
must be the same whichever way a chunk went (SQLite runs the same checks on its own path)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text

from isthmus.adapters.connectors.sql import SqlTarget
from isthmus.adapters.connectors.sql.config import SqlConfig
from isthmus.integration import OutboundChunk

TABLE = "CREATE TABLE vbak (vbeln VARCHAR(20) PRIMARY KEY, kunnr TEXT)"
PAIRS = "CREATE TABLE pos (vbeln TEXT, posnr INTEGER, matnr TEXT, PRIMARY KEY (vbeln, posnr))"


@pytest.fixture
def url(db_url: str, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'erp.db'}" if db_url.startswith("sqlite") else db_url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS vbak"))
        conn.execute(text("DROP TABLE IF EXISTS pos"))
        conn.execute(text(TABLE))
        conn.execute(text(PAIRS))
    yield engine
    engine.dispose()


def target(url: str, table: str = "vbak", key: tuple[str, ...] = ("vbeln",)) -> SqlTarget:
    made = SqlTarget(SqlConfig(url=url, table=table, key=list(key)), 5.0)
    made.min_split_rows = 1  # the tests' chunks are small
    return made


def send(made: SqlTarget, rows: list[tuple[Any, ...]], columns: tuple[str, ...] = ("vbeln", "kunnr")) -> None:
    frame = pl.DataFrame(rows, schema=list(columns), orient="row")
    frame = frame.with_columns(pl.lit("k").alias("__key"), pl.int_range(1, len(rows) + 1).alias("__row"))
    made.send_chunk(OutboundChunk("f", "c", frame, 5.0))


def rows_of(engine: Engine, table: str = "vbak") -> dict[Any, Any]:
    with engine.connect() as conn:
        if table == "vbak":
            return {k: v for k, v in conn.execute(text("SELECT vbeln, kunnr FROM vbak"))}
        return {(a, b): m for a, b, m in conn.execute(text("SELECT vbeln, posnr, matnr FROM pos"))}


def postgres(url: str) -> bool:
    return url.startswith("postgresql")


def test_new_keys_are_copied_existing_ones_upserted_and_both_at_once_split(url: str, engine: Engine) -> None:
    made = target(url)
    send(made, [("SO-10", "a"), ("SO-11", "b"), ("SO-10", "last wins")])
    assert rows_of(engine) == {"SO-10": "last wins", "SO-11": "b"}
    send(made, [("SO-10", "changed"), ("SO-11", "b")])  # every key exists
    assert rows_of(engine) == {"SO-10": "changed", "SO-11": "b"}
    send(made, [("SO-11", "again"), ("SO-12", "new"), ("SO-13", "new too"), ("SO-12", "newer")])
    assert rows_of(engine) == {"SO-10": "changed", "SO-11": "again", "SO-12": "newer", "SO-13": "new too"}
    send(made, [("SO-05", "new, below"), ("SO-10", "again")])  # no key above the range's SO-10
    assert rows_of(engine) == {
        "SO-05": "new, below",
        "SO-10": "again",
        "SO-11": "again",
        "SO-12": "newer",
        "SO-13": "new too",
    }
    if postgres(url):  # a split COPYs the keys above the range's greatest and stages the rest
        assert made.paths == {"copied": 1, "split": 1, "staged": 3}
    made.close()


def test_a_key_inserted_by_another_writer_after_the_probe_falls_back_to_the_upsert(
    url: str, engine: Engine
) -> None:
    made = target(url)
    ran: list[bool] = []

    def concurrent_insert() -> None:  # between the probe (it saw no SO-2) and the COPY
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO vbak VALUES ('SO-2', 'the other writer')"))
        ran.append(True)

    made.on_probed = concurrent_insert
    send(made, [("SO-1", "a"), ("SO-2", "b"), ("SO-3", "c")])
    assert rows_of(engine) == {"SO-1": "a", "SO-2": "b", "SO-3": "c"}
    if postgres(url):
        assert ran == [True]
        assert made.paths == {"fallback": 1, "staged": 1}
    made.close()


def test_composite_keys_are_probed_as_a_row(url: str, engine: Engine) -> None:
    made = target(url, "pos", ("vbeln", "posnr"))
    columns = ("vbeln", "posnr", "matnr")
    send(made, [("SO-1", 10, "M1"), ("SO-1", 20, "M2"), ("SO-2", 10, "M3"), ("SO-1", 20, "M2b")], columns)
    send(made, [("SO-2", 10, "M3"), ("SO-2", 20, "M4"), ("SO-3", 5, "M5")], columns)  # (SO-2, 20) above
    send(made, [("SO-1", 15, "between"), ("SO-1", 20, "M2b")], columns)  # nothing above (SO-1, 20)
    assert rows_of(engine, "pos") == {
        ("SO-1", 10): "M1",
        ("SO-1", 15): "between",
        ("SO-1", 20): "M2b",
        ("SO-2", 10): "M3",
        ("SO-2", 20): "M4",
        ("SO-3", 5): "M5",
    }
    if postgres(url):
        assert made.paths == {"copied": 1, "split": 1, "staged": 2}  # (SO-2, 20) and (SO-3, 5) COPYed
    made.close()


def test_a_chunk_delivered_again_has_one_effect_and_rewrites_nothing(url: str, engine: Engine) -> None:
    if not postgres(url):
        pytest.skip("row versions: PostgreSQL's xmin (SQLite's path is checked in test_chunks)")
    made = target(url)
    rows = [(f"SO-{n:03d}", f"C{n}") for n in range(50)]
    send(made, rows)
    versions = "SELECT vbeln, xmin::text FROM vbak"
    with engine.connect() as conn:
        before = {str(k): str(v) for k, v in conn.execute(text(versions))}
    send(made, rows)  # a replay of the delivered chunk
    with engine.connect() as conn:
        after = {str(k): str(v) for k, v in conn.execute(text(versions))}
    assert before == after
    assert rows_of(engine) == dict(rows)
    assert made.paths == {"copied": 1, "staged": 1}
    made.close()


def test_without_a_unique_index_on_the_key_nothing_is_copied(url: str, engine: Engine) -> None:
    if not postgres(url):
        pytest.skip("the COPY path is PostgreSQL's")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE loose (vbeln TEXT, kunnr TEXT)"))
        conn.execute(text("CREATE UNIQUE INDEX loose_partial ON loose (vbeln) WHERE kunnr IS NOT NULL"))
    made = target(url, "loose")
    with pytest.raises(Exception, match="ON CONFLICT"):  # the upsert needs a plain unique index
        send(made, [("SO-1", "a")])
    assert made.paths == {"staged": 1}
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE loose"))
    made.close()


keys = st.integers(0, 40)
chunks = st.lists(st.lists(st.tuples(keys, st.text("abc", max_size=2)), min_size=1, max_size=25), max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=chunks, concurrent=st.lists(st.tuples(keys, st.text("xyz", max_size=2)), max_size=6))
def test_any_sequence_of_chunks_ends_as_a_dict_would(
    url: str, engine: Engine, sequence: list[list[tuple[int, str]]], concurrent: list[tuple[int, str]]
) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM vbak"))
    made = target(url)
    model: dict[str, str] = {}
    others = list(concurrent)

    def other_writer() -> None:  # another writer's upsert between probe and COPY, while any are left
        if others:
            k, v = others.pop()
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO vbak VALUES (:k, :v) "
                        "ON CONFLICT (vbeln) DO UPDATE SET kunnr = excluded.kunnr"
                    ),
                    {"k": f"{k:02d}", "v": v},
                )
            model[f"{k:02d}"] = v

    made.on_probed = other_writer
    for chunk in sequence:
        # zero-padded and plain: "7" sorts after "10" as text, so some probes cross the key order
        rows = [(f"{k:02d}" if k % 3 else str(k), v) for k, v in chunk]
        send(made, rows)
        model.update(dict(rows))
    assert rows_of(engine) == model
    made.close()


def test_a_wal_sqlite_target_reads_what_adbc_wrote(tmp_path: Path) -> None:
    """ADBC's SQLite is a second copy of the library: a connection of ours left open on the file
    while ADBC wrote and checkpointed it read a stale WAL index ("malformed") — reproduced before
    the SQLite target's engine stopped pooling connections."""
    path = tmp_path / "erp-wal.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(TABLE)
        db.commit()
    made = target(f"sqlite:///{path}")
    for round_ in range(3):
        send(made, [(f"SO-{round_}-{n}", "x") for n in range(500)])
        with made._engine.connect() as conn:  # the target's own engine, as upsert() uses it
            assert conn.execute(text("SELECT count(*) FROM vbak")).scalar() == 500 * (round_ + 1)
        with closing(sqlite3.connect(path)) as fresh:
            assert fresh.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert fresh.execute("SELECT count(*) FROM vbak").fetchone() == (500 * (round_ + 1),)
    made.close()
