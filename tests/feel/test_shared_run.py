"""The fast paths of evaluation give what the general path gives.

* inside :func:`shared_run` (one evaluation opened for many texts, as decision tables do) a text's
  value and warnings are those of evaluating it on its own;
* an expression evaluated on a context cut down to :attr:`Expression.names` gives the same value
  as on the whole context;
* ``to_feel``/``from_feel`` (exact-class shortcuts first) agree with a plain reference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isthmus.feel import compile_expression, compile_unary_tests, from_feel, shared_run, to_feel

EXPRESSIONS = [
    "a",
    "a + b",
    "a * 2 > b",
    "a = b",
    "a.x",
    "a.x.y",
    'b + "!"',
    "1 / a",
    "unknown",
    "if a > 1 then b else c",
    "string length(b)",
    "sum([a, 1])",
    "for i in [1, 2] return i * a",
    "some i in [a, b] satisfies i > 1",
    "{x: a, y: x + 1}.y",
    "[a, b, c][item > 0]",
    "(function(n) n + 1)(a)",
    "date(b)",
    "a instance of number",
    "not(a)",
]
TESTS = ["< 10", ">= a", "[1..5]", '"x", "y"', "not(3)", "-", "? > b", "> unknown", "null", "(1..a]"]
# compiled once here: the first compile loads the grammar, slower than hypothesis' deadline
COMPILED = {text: compile_expression(text) for text in EXPRESSIONS}
COMPILED_TESTS = {text: compile_unary_tests(text) for text in TESTS}
#: loops, filters and FEEL function calls: bounded by a run of their own
NEEDS_A_RUN = {
    "for i in [1, 2] return i * a",
    "some i in [a, b] satisfies i > 1",
    "[a, b, c][item > 0]",
    "(function(n) n + 1)(a)",
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5).map(Decimal),
    st.sampled_from(["x", "y", "", "2024-01-02"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
    ),
    max_leaves=6,
)
contexts = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), values, max_size=4)


@given(st.sampled_from(EXPRESSIONS), contexts)
def test_an_expression_in_a_shared_run_is_as_on_its_own(text: str, context: dict[str, Any]) -> None:
    expression = COMPILED[text]
    alone: list[str] = []
    expected = expression.evaluate(context, warnings=alone)
    shared: list[str] = []
    with shared_run(shared):
        got = expression.evaluate(context, warnings=shared)
    assert got == expected or (_nan(got) and _nan(expected))
    assert shared == alone


@given(st.sampled_from(TESTS), values, contexts)
def test_unary_tests_in_a_shared_run_are_as_on_their_own(
    text: str, value: Any, context: dict[str, Any]
) -> None:
    tests = COMPILED_TESTS[text]
    alone: list[str] = []
    expected = tests.matches(value, context, warnings=alone)
    shared: list[str] = []
    with shared_run(shared):
        got = tests.matches(value, context, warnings=shared)
    assert got is expected
    assert shared == alone


@given(st.sampled_from(EXPRESSIONS), contexts)
def test_the_names_an_expression_reads_are_all_it_needs(text: str, context: dict[str, Any]) -> None:
    expression = COMPILED[text]
    narrowed = {k: v for k, v in context.items() if k in expression.names}
    full_warnings: list[str] = []
    narrow_warnings: list[str] = []
    expected = expression.evaluate(context, warnings=full_warnings)
    got = expression.evaluate(narrowed, warnings=narrow_warnings)
    assert got == expected or (_nan(got) and _nan(expected))
    assert narrow_warnings == full_warnings


@given(st.sampled_from(EXPRESSIONS), contexts)
def test_an_expression_s_shared_run_form_is_its_evaluate(text: str, context: dict[str, Any]) -> None:
    expression = COMPILED[text]
    alone: list[str] = []
    expected = expression.evaluate(context, warnings=alone)
    direct = expression.in_shared_run()
    assert (direct is None) == (text in NEEDS_A_RUN)
    if direct is None:
        return
    shared: list[str] = []
    with shared_run(shared):
        got = direct(context)
    assert got == expected or (_nan(got) and _nan(expected))
    assert shared == alone


@given(st.sampled_from(TESTS), values, contexts)
def test_unary_tests_shared_run_form_is_their_matches(text: str, value: Any, context: dict[str, Any]) -> None:
    tests = COMPILED_TESTS[text]
    alone: list[str] = []
    expected = tests.matches(value, context, warnings=alone)
    direct = tests.in_shared_run()
    assert direct is not None
    shared: list[str] = []
    with shared_run(shared):
        got = direct(value, context)
    assert got is expected
    assert shared == alone


@pytest.mark.parametrize(
    ("text", "value"), [('"director"', "director"), ("false", False), ("12", Decimal(12)), ("null", None)]
)
def test_a_literal_says_its_value(text: str, value: Any) -> None:
    expression = compile_expression(text)
    assert expression.is_constant
    assert expression.constant == value == expression.evaluate({})


@pytest.mark.parametrize("text", ["a", "1 + 2", '"x" + a', "[1]"])
def test_other_texts_are_not_literals(text: str) -> None:
    assert not compile_expression(text).is_constant


def test_a_shared_run_with_other_warnings_is_not_joined() -> None:
    mine: list[str] = []
    theirs: list[str] = []
    with shared_run(theirs):
        assert compile_expression("unknown").evaluate({}, warnings=mine) is None
    assert mine
    assert not theirs


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=5),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers(0, 3)), inner, max_size=3),
    ),
    max_leaves=10,
)


def _reference_to_feel(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _reference_to_feel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reference_to_feel(v) for v in value]
    return value


@given(json_values)
def test_to_feel_agrees_with_the_plain_conversion(value: Any) -> None:
    assert to_feel(value) == _reference_to_feel(value)


@given(json_values)
def test_from_feel_inverts_to_feel_on_json_data(value: Any) -> None:
    once = from_feel(to_feel(value))
    assert from_feel(to_feel(once)) == once  # a fixed point after one round


def _nan(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_nan()
