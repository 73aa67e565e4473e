"""The SQL target's bulk upsert of a chunk (SQLite executemany; PostgreSQL COPY + INSERT … ON CONFLICT)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from isthmus.adapters.connectors import make_target
from isthmus.integration import Endpoint, OutboundChunk, TargetRejected


@pytest.fixture
def url(db_url: str, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'erp.db'}" if db_url.startswith("sqlite") else db_url
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE vbak (vbeln VARCHAR(20) PRIMARY KEY, kunnr TEXT, dmbtr NUMERIC(15, 2))")
        )
    engine.dispose()
    return url


def chunk(rows: list[tuple[str, str | None, str | None]], key: str = "chunk:1") -> OutboundChunk:
    frame = pl.DataFrame(rows, schema=["vbeln", "kunnr", "dmbtr"], orient="row").with_columns(
        pl.col("vbeln").alias("__key"), pl.int_range(1, len(rows) + 1).alias("__row")
    )
    return OutboundChunk("f", key, frame, 5.0)


def stored(url: str) -> list[tuple[str, str | None, str | None]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT vbeln, kunnr, CAST(dmbtr AS TEXT) FROM vbak ORDER BY vbeln")).all()
    engine.dispose()
    return [(a, b, None if c is None else f"{float(c):.2f}") for a, b, c in rows]


def test_a_chunk_twice_leaves_one_row_per_key_with_text_as_sent(url: str) -> None:
    target = make_target(Endpoint("ERP", "sql", {"url": url, "table": "vbak", "key": ["vbeln"]}), 5.0)
    tricky = [
        ("SO-1", 'a "quoted", comma', "1.50"),
        ("SO-2", "", None),
        ("SO-3", None, "2"),
        ("SO-4", "line\nbreak", "3.25"),
        ("SO-1", "last wins", "9.99"),
    ]
    target.send_chunk(chunk(tricky))  # type: ignore[attr-defined]
    target.send_chunk(chunk(tricky))  # type: ignore[attr-defined]
    assert stored(url) == [
        ("SO-1", "last wins", "9.99"),
        ("SO-2", "", None),
        ("SO-3", None, "2.00"),
        ("SO-4", "line\nbreak", "3.25"),
    ]
    target.send_chunk(chunk([("SO-2", "updated", "5")]))  # type: ignore[attr-defined]
    assert stored(url)[1] == ("SO-2", "updated", "5.00")
    target.close()


def test_a_chunk_the_table_cannot_take_is_rejected_not_retried(url: str) -> None:
    target = make_target(Endpoint("ERP", "sql", {"url": url, "table": "vbak", "key": ["vbeln"]}), 5.0)
    unknown = OutboundChunk(
        "f", "c", pl.DataFrame({"vbeln": ["SO-1"], "nope": ["x"], "__key": ["SO-1"]}), 5.0
    )
    with pytest.raises(TargetRejected, match="nope"):
        target.send_chunk(unknown)  # type: ignore[attr-defined]
    no_key = OutboundChunk("f", "c", pl.DataFrame({"kunnr": ["C1"], "__key": ["SO-1"]}), 5.0)
    with pytest.raises(TargetRejected, match="vbeln"):
        target.send_chunk(no_key)  # type: ignore[attr-defined]
    target.close()


def test_a_sqlite_chunk_keeps_numbers_and_nulls_and_is_all_or_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER, x REAL, flag BOOLEAN, s TEXT NOT NULL)")
        )
    target = make_target(Endpoint("ERP", "sql", {"url": url, "table": "t", "key": ["k"]}), 5.0)
    frame = pl.DataFrame(
        {"k": [1, 2], "n": [10, None], "x": [1.5, None], "flag": [True, None], "s": ["a", "b"]}
    )
    target.send_chunk(OutboundChunk("f", "c1", frame.with_columns(pl.col("k").alias("__key")), 5.0))  # type: ignore[attr-defined]
    broken = pl.DataFrame(
        {"k": [1, 3], "n": [99, 3], "s": ["changed", None]}, schema_overrides={"s": pl.String}
    )
    with pytest.raises(TargetRejected, match="NOT NULL"):
        target.send_chunk(OutboundChunk("f", "c2", broken, 5.0))  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT k, n, typeof(n), x, flag, s FROM t ORDER BY k")).all()
    assert [tuple(r) for r in rows] == [(1, 10, "integer", 1.5, 1, "a"), (2, None, "null", None, None, "b")]
    target.close()
    engine.dispose()


def test_a_chunk_delivered_again_rewrites_only_the_rows_that_changed(url: str) -> None:
    target = make_target(Endpoint("ERP", "sql", {"url": url, "table": "vbak", "key": ["vbeln"]}), 5.0)
    rows = [("SO-1", "C1", "1.50"), ("SO-2", None, "2.00"), ("SO-3", "C3", None)]
    target.send_chunk(chunk(rows))  # type: ignore[attr-defined]
    engine = create_engine(url)
    # a row version: PostgreSQL's xmin changes with every rewrite; SQLite counts them by a trigger
    if url.startswith("sqlite"):
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE rewrites (vbeln TEXT)"))
            conn.execute(
                text(
                    "CREATE TRIGGER counted AFTER UPDATE ON vbak BEGIN "
                    "INSERT INTO rewrites VALUES (new.vbeln); END"
                )
            )
        versions = "SELECT vbeln, (SELECT count(*) FROM rewrites r WHERE r.vbeln = v.vbeln) FROM vbak v"
    else:
        versions = "SELECT vbeln, xmin::text FROM vbak"

    def seen() -> dict[str, str]:
        with engine.connect() as conn:
            return {r[0]: str(r[1]) for r in conn.execute(text(versions))}

    before = seen()
    target.send_chunk(chunk([rows[0], ("SO-2", None, "2.5"), rows[2]]))  # type: ignore[attr-defined]
    after = seen()
    assert [k for k in before if before[k] != after[k]] == ["SO-2"]
    assert stored(url)[1] == ("SO-2", None, "2.50")
    target.close()
    engine.dispose()
