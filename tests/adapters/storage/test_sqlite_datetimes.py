"""SQLite keeps datetimes as text: the text must be SQLAlchemy's own form (it is compared as text)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from isthmus.adapters.storage.tables import _SqliteDateTime

_dialect = sqlite.dialect()
_ours_in: Any = _SqliteDateTime().bind_processor(_dialect)
_ours_out: Any = _SqliteDateTime().result_processor(_dialect, None)
_theirs_in: Any = sqlite.DATETIME().bind_processor(_dialect)  # type: ignore[no-untyped-call]


@given(st.datetimes(min_value=datetime(1000, 1, 1)))
def test_written_like_sqlalchemy_and_read_back_exactly(value: datetime) -> None:
    text = _ours_in(value)
    assert text == _theirs_in(value)
    assert _ours_out(text) == value


@given(st.datetimes(min_value=datetime(1000, 1, 1)), st.datetimes(min_value=datetime(1000, 1, 1)))
def test_the_text_orders_as_the_instants(a: datetime, b: datetime) -> None:
    assert (_ours_in(a) < _ours_in(b)) == (a < b)
