"""Profiling: types, null rates, shapes, rule violations and the data error rate; JSON and HTML."""

from __future__ import annotations

import json

import polars as pl

from isthmus.quality import profile, validation


def _orders() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "order_id": ["SO-001", "SO-002", "SO-003", "SO-004"],
            "amount": ["50000", "120000.5", None, "-3"],
            "phone": ["138 0013 8000", "13900001111", "139 0000 2222", ""],
            "created": ["2024-06-01", "2024-06-02", "2024/06/03", None],
        }
    )


def test_columns() -> None:
    p = profile(_orders(), source="orders.csv")
    by = {c.name: c for c in p.columns}
    assert (by["amount"].type, by["amount"].nulls, by["amount"].null_rate) == ("number", 1, 0.25)
    assert by["order_id"].type == "text"
    assert by["created"].type == "date"
    assert by["phone"].patterns == [("999 9999 9999", 2), ("99999999999", 1)]
    assert by["phone"].nulls == 1  # an empty string is missing too
    assert by["order_id"].distinct == 4


def test_error_rate_from_feel_rules() -> None:
    rules = [
        validation("amount positive", "number(amount) > 0", columns=("amount",)),
        validation("phone present", 'phone != null and phone != ""', columns=("phone",)),
    ]
    p = profile(_orders(), rules=rules)
    assert p.violations == {"amount positive": 2, "phone present": 1}
    assert (p.rows_with_errors, p.error_rate) == (2, 0.5)
    assert {c.name: c.violations for c in p.columns}["amount"] == {"amount positive": 2}


def test_json_and_html() -> None:
    p = profile(_orders(), source="orders <1>.csv")
    body = json.loads(p.to_json())
    assert body["rows"] == 4
    assert body["columns"][2]["patterns"][0] == {"pattern": "999 9999 9999", "count": 2}
    page = p.to_html()
    assert "orders &lt;1&gt;.csv" in page
    assert "<script" not in page
