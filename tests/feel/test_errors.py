"""Syntax errors: located, with the expected tokens, and never anything but FeelSyntaxError."""

from __future__ import annotations

import pytest

from isthmus.errors import SyntaxProblem
from isthmus.feel import FeelSyntaxError, compile_expression, compile_unary_tests


def test_a_syntax_error_names_line_column_and_expected_tokens() -> None:
    with pytest.raises(FeelSyntaxError) as caught:
        compile_expression("1 +\n (2 *")
    error = caught.value
    assert isinstance(error, SyntaxProblem)
    assert (error.line, error.column) == (2, 6)
    assert "a number" in error.expected
    assert error.message.startswith("line 2, column 6: unexpected end of input, expected")


def test_an_unexpected_token_is_quoted() -> None:
    with pytest.raises(FeelSyntaxError) as caught:
        compile_expression("a ] b")
    assert caught.value.column == 3
    assert "unexpected ']'" in caught.value.message


@pytest.mark.parametrize(
    "text",
    ['"unterminated', "a $ b", '@"not a date"', "x instance of", "function(a:) a", "{a: 1,}", "((((1)))"],
)
def test_malformed_text_raises_feel_syntax_error(text: str) -> None:
    with pytest.raises(FeelSyntaxError):
        compile_expression(text)


def test_deep_nesting_is_refused_at_compile_time() -> None:
    with pytest.raises(FeelSyntaxError, match="nested"):
        compile_expression("(" * 500 + "1" + ")" * 500)


def test_unary_tests_report_syntax_errors_too() -> None:
    with pytest.raises(FeelSyntaxError):
        compile_unary_tests("< ")
