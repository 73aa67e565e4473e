"""Parser fuzzing: any text compiles or raises FeelSyntaxError; evaluation never raises."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isthmus.feel import FeelSyntaxError, compile_expression, compile_unary_tests

SEEDS = [
    'if a > 1 then "x" else [1..3]',
    "for x in 1..3 return {k: x, l: [x, -x][item > 0]}",
    'some x in [1, 2] satisfies x instance of list<number> or date("2024-01-01").year = 2024',
    'substring(string: "abc", start position: 2) + string(1/3)',
    "{f: function(n) if n <= 1 then 1 else n * f(n - 1), r: f(5)}.r",
    "x in (< 5, [6..8], not(10))",
]
ALPHABET = st.sampled_from(
    [*list('abcxyz0123456789 +-*/=<>!.,:;()[]{}"@?\\\n'), "and", "or", "for", "in", " if "]
)
CONTEXT = {"a": Decimal(2), "x": [Decimal(1)], "b": "s"}


def _check(text: str) -> None:
    try:
        expression = compile_expression(text)
    except FeelSyntaxError:
        return
    expression.evaluate(CONTEXT)
    expression.evaluate(CONTEXT, warnings=[])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_arbitrary_text_never_raises_anything_else(text: str) -> None:
    _check(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=25))
def test_token_soup_never_raises_anything_else(parts: list[str]) -> None:
    _check("".join(parts))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.integers(0, 200), st.integers(0, 5), st.text(max_size=4))
def test_mutated_valid_expressions_never_raise_anything_else(
    seed: str, at: int, cut: int, insert: str
) -> None:
    position = at % (len(seed) + 1)
    _check(seed[:position] + insert + seed[position + cut :])


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_unary_tests_never_raise_anything_else(text: str) -> None:
    try:
        tests = compile_unary_tests(text)
    except FeelSyntaxError:
        return
    tests.matches(Decimal(1), CONTEXT)
