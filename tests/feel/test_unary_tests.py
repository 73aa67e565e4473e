"""Unary tests: the input entries of decision tables (DMN 1.5 §10.3.2.9)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from isthmus.feel import FeelFunction, compile_unary_tests

D = Decimal

CASES = [
    ("-", D(5), True),
    ("", None, True),
    ("5", D(5), True),
    ("5", D(6), False),
    ("< 10", D(5), True),
    ("<= 10", D(10), True),
    ("> 10", D(10), False),
    (">= 10", D(10), True),
    ("= 10", D(10), True),
    ("!= 10", D(10), False),
    ("!= 10", D(11), True),
    ("[1..10]", D(10), True),
    ("[1..10)", D(10), False),
    ("]1..10]", D(1), False),
    ("1, 2, 3", D(2), True),
    ('"a", "b"', "c", False),
    ('not("a", "b")', "c", True),
    ("not(< 10)", D(5), False),
    ("null", None, True),
    ("null", D(1), False),
    ("< 10", None, False),
    ("< 10", "x", False),
    ("? > 3 and ? < 5", D(4), True),
    ("count(?) = 2", [D(1), D(2)], True),
    ("[1, 2, 3]", D(2), True),
    ("true", True, True),
    ("false", True, False),
    ('< date("2024-01-01")', dt.date(2023, 12, 31), True),
    ('[date("2024-01-01")..date("2024-12-31")]', dt.date(2024, 6, 1), True),
]


@pytest.mark.parametrize(("text", "value", "expected"), CASES)
def test_unary_test_matches(text: str, value: Any, expected: bool) -> None:
    assert compile_unary_tests(text).matches(value, {}) is expected


def test_unary_tests_read_names_from_the_context() -> None:
    tests = compile_unary_tests("< Max Amount", names=["Max Amount"])
    assert tests.matches(D(5), {"Max Amount": D(10)})
    assert not tests.matches(D(15), {"Max Amount": D(10)})


def test_a_boolean_expression_without_input_decides_alone() -> None:
    assert compile_unary_tests("flag").matches(D(1), {"flag": True})


def test_a_function_valued_test_is_applied_to_the_input() -> None:
    positive = FeelFunction(["x"], lambda x: x > 0)
    assert compile_unary_tests("p").matches(D(3), {"p": positive})


def test_warnings_are_reported_for_unary_tests() -> None:
    warnings: list[str] = []
    assert not compile_unary_tests("missing").matches(D(1), {}, warnings=warnings)
    assert warnings
