"""Batch mode: Polars translation and the row-wise fallback agree."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isthmus.feel import compile_batch

VECTORISED = [
    "amount * 2 + bonus",
    "amount - bonus > 10",
    "amount = bonus",
    "amount != null",
    "amount between 0 and 50",
    "(amount > 10 and bonus < 5) or not(flag)",
    'if amount > 15 then "big" else "small"',
    'upper case(name) + "-" + lower case(name)',
    "string length(name)",
    "substring(name, 2, 2)",
    "substring(name, -2)",
    'contains(name, "a")',
    'starts with(name, "b")',
    'ends with(name, "z")',
    "abs(bonus)",
    "floor(amount / 3)",
    "ceiling(amount / 3)",
    "decimal(amount / 4, 1)",
    "round half up(amount / 4, 0)",
    "-amount",
    "bonus / amount",
]


def test_supported_expressions_translate_to_polars() -> None:
    for text in VECTORISED:
        assert compile_batch(text).to_polars() is not None, text


def test_unsupported_expressions_fall_back_to_rows() -> None:
    batch = compile_batch("for x in [1, 2] return x * amount")
    assert batch.to_polars() is None
    frame = pl.DataFrame({"amount": [1, 2]})
    assert batch.evaluate_frame(frame).to_list() == [[1, 2], [2, 4]]


def test_dates_from_strings_and_paths_into_struct_columns() -> None:
    frame = pl.DataFrame({"d": ["2024-01-31", "bad", None], "order": [{"id": 1}, {"id": 2}, {"id": None}]})
    assert compile_batch("date(d)").evaluate_frame(frame).to_list() == [dt.date(2024, 1, 31), None, None]
    assert compile_batch("order.id * 10").evaluate_frame(frame).to_list() == [10, 20, None]


def test_a_type_error_in_polars_falls_back_to_feel_nulls() -> None:
    frame = pl.DataFrame({"amount": [1, 2]})
    assert compile_batch('"a" + amount').evaluate_frame(frame).to_list() == [None, None]


rows = st.fixed_dictionaries(
    {
        "amount": st.none() | st.integers(-100, 100),
        "bonus": st.none() | st.integers(-100, 100),
        "flag": st.none() | st.booleans(),
        "name": st.none() | st.text(alphabet="abzAB", max_size=5),
    }
)
SCHEMA = {"amount": pl.Int64, "bonus": pl.Int64, "flag": pl.Boolean, "name": pl.String}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9  # type: ignore[arg-type]
    return a == b


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, min_size=1, max_size=20), st.sampled_from(VECTORISED))
def test_batch_and_row_wise_agree(records: list[dict[str, object]], text: str) -> None:
    frame = pl.DataFrame(records, schema=SCHEMA)
    batch = compile_batch(text)
    vectorised = batch.evaluate_frame(frame).to_list()
    row_wise = batch.evaluate_rows(frame).to_list()
    assert len(vectorised) == len(row_wise)
    for got, want in zip(vectorised, row_wise, strict=True):
        assert _same(got, want), (text, got, want)


@pytest.mark.parametrize("text", ["amount / 0", "bonus / amount"])
def test_division_by_zero_is_null_in_both_modes(text: str) -> None:
    frame = pl.DataFrame({"amount": [0, 2], "bonus": [1, 1]})
    batch = compile_batch(text)
    assert batch.evaluate_rows(frame).to_list()[0] is None
    assert batch.evaluate_frame(frame).to_list()[0] is None
