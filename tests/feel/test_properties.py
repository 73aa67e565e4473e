"""Property tests: FEEL arithmetic, comparison and string functions against Python's own."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from isthmus.feel import compile_expression

numbers = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=6)
texts = st.text(max_size=30)

ADD = compile_expression("a + b")
SUBTRACT_SELF = compile_expression("a - a")
LESS = compile_expression("a < b")
EQUAL = compile_expression("a = b")
GREATER = compile_expression("a > b")
LENGTH = compile_expression("string length(s)")
UPPER = compile_expression("upper case(s)")
SUBSTRING = compile_expression("substring(s, start, length)")
CONTAINS = compile_expression("contains(s, t)")
STARTS = compile_expression("starts with(s, t)")


@given(numbers, numbers)
def test_addition_commutes(a: Decimal, b: Decimal) -> None:
    assert ADD.evaluate({"a": a, "b": b}) == ADD.evaluate({"a": b, "b": a})


@given(numbers)
def test_a_number_minus_itself_is_zero(a: Decimal) -> None:
    assert SUBTRACT_SELF.evaluate({"a": a}) == 0


@given(numbers, numbers)
def test_comparisons_agree_with_python_decimal(a: Decimal, b: Decimal) -> None:
    context = {"a": a, "b": b}
    assert LESS.evaluate(context) is (a < b)
    assert EQUAL.evaluate(context) is (a == b)


@given(numbers | texts, numbers | texts)
def test_trichotomy(a: Decimal | str, b: Decimal | str) -> None:
    context = {"a": a, "b": b}
    outcomes = [LESS.evaluate(context), EQUAL.evaluate(context), GREATER.evaluate(context)]
    if type(a) is type(b):
        assert outcomes.count(True) == 1
    else:
        assert outcomes == [None, None, None]


@given(texts)
def test_string_length_and_upper_case_match_python(s: str) -> None:
    assert LENGTH.evaluate({"s": s}) == len(s)
    assert UPPER.evaluate({"s": s}) == s.upper()


@given(texts, st.integers(-40, 40).filter(lambda n: n != 0), st.integers(0, 40))
def test_substring_follows_the_feel_index_rules(s: str, start: int, length: int) -> None:
    first = start - 1 if start > 0 else max(len(s) + start, 0)
    expected = s[first : first + length]
    assert SUBSTRING.evaluate({"s": s, "start": start, "length": length}) == expected


@given(texts, texts)
def test_contains_and_starts_with_match_python(s: str, t: str) -> None:
    assert CONTAINS.evaluate({"s": s, "t": t}) is (t in s)
    assert STARTS.evaluate({"s": s, "t": t}) is s.startswith(t)
