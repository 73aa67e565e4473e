"""FEEL behaviours the DMN TCK expects that ``isthmus.feel`` does not (yet) provide.

Each test is the smallest reproduction of a failing TCK value; they are xfail (not strict) so the
suite stays green and turns them into XPASS once ``isthmus.feel`` closes the gap.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from isthmus.feel import FeelFunction, compile_expression


@pytest.mark.xfail(
    strict=False, reason="positional call with too few arguments pads with null (TCK 0085 008)"
)
def test_feel_gap_too_few_positional_arguments_make_the_call_null() -> None:
    function = FeelFunction(["x"], lambda x: "called")
    assert compile_expression("f()").evaluate({"f": function}) is None


@pytest.mark.xfail(
    strict=False, reason="context put with named key given a list must be null (TCK 1146 nested008)"
)
def test_feel_gap_context_put_named_key_list_is_null() -> None:
    text = 'context put(context: {x: 1, y: {a: 0}}, key: ["y", "a"], value: 2)'
    assert compile_expression(text).evaluate({}) is None


@pytest.mark.xfail(strict=False, reason="external Java functions are not evaluated (TCK 0076)")
def test_feel_gap_external_java_function() -> None:
    text = (
        'function(a, b) external {java: {class: "java.lang.Math", method signature: "max(double, double)"}}'
        "(123, 456)"
    )
    assert compile_expression(text).evaluate({}) == Decimal(456)


@pytest.mark.xfail(
    strict=False, reason="years outside 1..9999 do not fit Python dates (TCK 0100, 1115, 1117, 1121)"
)
def test_feel_gap_negative_and_huge_years() -> None:
    assert compile_expression('date("-2016-01-30")').evaluate({}) is not None
    assert compile_expression('date("999999999-12-31")').evaluate({}) is not None


@pytest.mark.xfail(strict=False, reason="nanosecond fractions are cut to microseconds (TCK 1117)")
def test_feel_gap_nanosecond_precision() -> None:
    value = compile_expression('string(time("10:15:30.123456789"))').evaluate({})
    assert value == "10:15:30.123456789"
