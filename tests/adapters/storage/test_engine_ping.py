"""PostgreSQL pooled connections are pinged at checkout only after sitting idle: a dead one is
replaced before the caller sees it; a connection just checked in is used without a round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from isthmus.adapters.storage.engine import _ping_when_idle, normalise_url


def _kill_pooled_backend(url: str, idle_s: float) -> tuple[Engine, int]:
    engine = _ping_when_idle(create_engine(normalise_url(url), pool_size=1, max_overflow=0), idle_s)
    with engine.connect() as conn:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    killer = create_engine(normalise_url(url))
    with killer.connect() as other:  # the server drops the pooled one
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    killer.dispose()
    return engine, pid


def test_an_idle_dead_connection_is_replaced_at_checkout(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to lose")
    engine, pid = _kill_pooled_backend(db_url, idle_s=0)  # every checkout counts as idle
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to lose")
    engine, _ = _kill_pooled_backend(db_url, idle_s=3600)  # just checked in: no ping, so the loss shows
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
