"""Every hit policy on small tables over one number input ``x``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isthmus.decisions import DecisionEngine, evaluate
from isthmus.decisions._tables import split_unary_tests

from ._builders import table

OVERLAPPING = [([">= 0"], ['"low"']), ([">= 10"], ['"high"']), (["-"], ['"any"'])]


def _run(
    hit_policy: str,
    x: object,
    *,
    aggregation: str = "",
    rules: list[tuple[list[str], list[str]]] = OVERLAPPING,
    output_values: str = "",
) -> object:
    model = table(
        rules, inputs=["x"], hit_policy=hit_policy, aggregation=aggregation, output_values=output_values
    )
    return evaluate(model, "d", {"x": x}).value


def test_unique_returns_the_single_match() -> None:
    assert _run("UNIQUE", 5, rules=[(["< 10"], ['"low"']), ([">= 10"], ['"high"'])]) == "low"


def test_unique_with_two_matches_is_null_with_a_warning() -> None:
    model = table(OVERLAPPING, inputs=["x"], hit_policy="UNIQUE")
    result = evaluate(model, "d", {"x": 12})
    assert result.value is None
    assert any("UNIQUE" in w for w in result.warnings)


def test_no_match_is_null() -> None:
    assert _run("UNIQUE", -1, rules=[([">= 0"], ['"low"'])]) is None


def test_first_takes_rule_order() -> None:
    assert _run("FIRST", 12) == "low"


def test_any_accepts_agreeing_rules_only() -> None:
    agreeing = [([">= 0"], ['"same"']), ([">= 10"], ['"same"'])]
    assert _run("ANY", 12, rules=agreeing) == "same"
    assert _run("ANY", 12) is None


def test_priority_follows_output_values_order() -> None:
    assert _run("PRIORITY", 12, output_values='"high","any","low"') == "high"
    assert _run("PRIORITY", 5, output_values='"high","any","low"') == "any"


def test_output_order_sorts_by_priority() -> None:
    assert _run("OUTPUT ORDER", 12, output_values='"any","high","low"') == ["any", "high", "low"]


def test_rule_order_lists_every_match() -> None:
    assert _run("RULE ORDER", 12) == ["low", "high", "any"]


def test_collect_without_aggregation_is_a_list_and_empty_when_nothing_matches() -> None:
    assert _run("COLLECT", 5) == ["low", "any"]
    assert _run("COLLECT", -1, rules=[([">= 0"], ["1"])]) == []


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("SUM", Decimal(6)), ("MIN", Decimal(1)), ("MAX", Decimal(3)), ("COUNT", Decimal(3))],
)
def test_collect_aggregations(aggregation: str, expected: Decimal) -> None:
    rules = [(["-"], ["1"]), (["-"], ["2"]), (["-"], ["3"]), ([">100"], ["100"])]
    assert _run("COLLECT", 5, aggregation=aggregation, rules=rules) == expected


def test_count_of_no_match_is_zero_and_sum_is_null() -> None:
    rules = [([">100"], ["1"])]
    assert _run("COLLECT", 5, aggregation="COUNT", rules=rules) == 0
    assert _run("COLLECT", 5, aggregation="SUM", rules=rules) is None


def test_multiple_outputs_give_a_context_and_matched_rules_are_reported() -> None:
    model = table([(["< 10"], ['"a"', "1"]), ([">= 10"], ['"b"', "2"])], inputs=["x"], outputs=["name", "n"])
    result = DecisionEngine([model]).evaluate("d", {"x": Decimal(3)})
    assert result.value == {"name": "a", "n": Decimal(1)}
    assert result.matched_rules == {"d": ("r1",)}


def test_split_unary_tests_respects_quotes_and_ranges() -> None:
    assert split_unary_tests('"a,b", [1..2], "c"') == ['"a,b"', "[1..2]", '"c"']
