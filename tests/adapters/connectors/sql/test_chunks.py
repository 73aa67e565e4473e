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
