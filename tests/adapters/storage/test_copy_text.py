"""The COPY text of held-back inserts (PostgreSQL): the shortcuts of ``_copy_text`` (texts with
nothing to escape written as they are, one conversion per shared object) write the same text as
converting every field on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from psycopg.types.json import Json, Jsonb

from isthmus.adapters.storage.engine import _copy_field, _copy_text, _NotPlain

# the characters COPY escapes come up often (each one alone must be escaped), any other too
_texts = st.text(
    alphabet=st.sampled_from("\\\t\n\rN a中")
    | st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts, inner, max_size=3),
    max_leaves=8,
)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
_moments = st.builds(
    lambda at, zone: at.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
    _zones,
)
_values = (
    _texts
    | st.none()
    | st.integers(-(2**63), 2**63 - 1)
    | st.booleans()
    | _moments
    | _json.map(Jsonb)
    | _json.map(Json)
    | _json.map(lambda value: Jsonb(value, dumps=lambda obj: "\t\n\\" + repr(obj)))
)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _field(value: Any) -> str:
    """The reference: texts escaped here, by ``str.translate`` on every one (independent of the
    module's shortcut), everything else by ``_copy_field``."""
    return value.translate(_ESCAPES) if type(value) is str else _copy_field(value)


def _one_by_one(rows: list[tuple[Any, ...]]) -> str:
    return "".join("\t".join([_field(value) for value in row]) + "\n" for row in rows)


@given(
    st.lists(st.lists(_values, min_size=1, max_size=8), min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=10),
)
@example([["a\\b", "a\tb", "a\nb", "a\rb", "\\N", None]], [])  # each escaped character alone
def test_copy_text_equals_the_fields_converted_one_by_one(
    rows: list[list[Any]], shares: list[tuple[int, int]]
) -> None:
    # rows of a batch share objects (a step's ``now``, its attributes dict): put some values in
    # several places, the cache must give each place its own object's text
    flat = [(r, c) for r, row in enumerate(rows) for c in range(len(row))]
    for source, target in shares:
        (sr, sc), (tr, tc) = flat[source % len(flat)], flat[target % len(flat)]
        rows[tr][tc] = rows[sr][sc]
    built = [tuple(row) for row in rows]
    assert _copy_text(built) == _one_by_one(built)


def test_values_the_fast_text_does_not_write_are_refused() -> None:
    with pytest.raises(_NotPlain):
        _copy_text([("text", 1.5)])
    with pytest.raises(_NotPlain):
        _copy_text([(datetime(2026, 1, 1),)])  # naive: left to psycopg's dumpers
