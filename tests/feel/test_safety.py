"""Evaluation bounds and isolation: FEEL reaches FEEL values only, and always terminates."""

from __future__ import annotations

import time
from decimal import Decimal

from isthmus.feel import EvaluationLimits, compile_expression

from ._helpers import feel, feel_warnings


def test_runaway_recursion_is_cut_at_the_depth_limit() -> None:
    warnings: list[str] = []
    expression = compile_expression(
        "{f: function(n) f(n + 1), r: f(0)}.r", limits=EvaluationLimits(max_depth=20)
    )
    assert expression.evaluate({}, warnings=warnings) is None
    assert any("deeper than 20" in w for w in warnings)


def test_deep_but_legal_recursion_works() -> None:
    assert feel("{f: function(n) if n = 0 then 0 else 1 + f(n - 1), r: f(40)}.r") == Decimal(40)


def test_a_long_loop_stops_at_the_deadline() -> None:
    expression = compile_expression(
        "count(for i in 1..100000, j in 1..100000 return 1)",
        limits=EvaluationLimits(max_seconds=0.2, max_size=10**12),
    )
    warnings: list[str] = []
    started = time.monotonic()
    assert expression.evaluate({}, warnings=warnings) is None
    assert time.monotonic() - started < 5
    assert any("exceeded" in w for w in warnings)


def test_results_larger_than_the_size_limit_are_null() -> None:
    expression = compile_expression("for i in 1..1000 return i", limits=EvaluationLimits(max_size=100))
    warnings: list[str] = []
    assert expression.evaluate({}, warnings=warnings) is None
    assert warnings


def test_python_attributes_are_unreachable() -> None:
    for text in ['"x".__class__', "x.__dict__", "date.__globals__", "(function() 1).__code__"]:
        value, _ = feel_warnings(text, {"x": object()})
        assert value is None


def test_dunder_names_are_just_unknown_names() -> None:
    value, warnings = feel_warnings("__import__")
    assert value is None
    assert "unknown name" in warnings[0]


def test_catastrophic_regex_patterns_are_refused() -> None:
    value, warnings = feel_warnings('matches("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "(a*)*b")')
    assert value is None
    assert "backtracking" in warnings[0]


def test_regex_input_length_is_bounded() -> None:
    expression = compile_expression('matches(s, "a")', limits=EvaluationLimits(max_regex_input=10))
    assert expression.evaluate({"s": "b" * 11}, warnings=[]) is None


def test_python_recursion_errors_never_escape() -> None:
    limits = EvaluationLimits(max_depth=100_000)
    expression = compile_expression("{f: function(n) f(n + 1), r: f(0)}.r", limits=limits)
    assert expression.evaluate({}, warnings=[]) is None
    assert expression.evaluate({}) is None
