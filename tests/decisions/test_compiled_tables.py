"""A decision table compiled once (``_tables._Plan``) decides exactly as cell-by-cell evaluation.

Tables are generated: hit policy, rules drawn from unary tests that match, miss, read other inputs,
fail to parse or fail at run time, outputs that are literals, expressions or empty, declared
output values; inputs of mixed types. Value, warnings and matched rules must agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isthmus.decisions import DecisionEngine, Definitions
from isthmus.decisions import _tables as tables

from ._builders import table

ENTRIES = ["-", "< 10", ">= 0", "[1..5]", '"a", "b"', "not(3)", "> y", "? = y", "<<", "< date(y)", "null", ""]
OUTPUTS = ['"low"', '"high"', "x + 1", "y", "", "1 / 0", '"a"', "null", "[x, y]"]
POLICIES = [
    ("UNIQUE", ""),
    ("ANY", ""),
    ("FIRST", ""),
    ("PRIORITY", ""),
    ("RULE ORDER", ""),
    ("OUTPUT ORDER", ""),
    ("COLLECT", ""),
    ("COLLECT", "SUM"),
    ("COLLECT", "COUNT"),
    ("COLLECT", "MAX"),
]

rules = st.lists(
    st.tuples(st.lists(st.sampled_from(ENTRIES), min_size=2, max_size=2), st.sampled_from(OUTPUTS)),
    min_size=1,
    max_size=5,
)
inputs = st.one_of(st.none(), st.integers(-2, 12), st.sampled_from(["a", "b", "2024-01-01"]), st.booleans())


def _decide(model: Definitions, values: dict[str, Any], *, compiled: bool) -> tuple[Any, Any, Any]:
    engine = DecisionEngine([model])
    with pytest.MonkeyPatch.context() as patch:
        if not compiled:
            patch.setattr(tables, "_plan", lambda table, names, host: None)
        result = engine.evaluate("d", values)
    return result.value, result.warnings, dict(result.matched_rules)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=150)
@given(
    rules,
    st.sampled_from(POLICIES),
    st.sampled_from(["", '"high","low","a"']),
    inputs,
    inputs,
)
def test_a_compiled_table_decides_as_cell_by_cell_evaluation(
    drawn: list[tuple[list[str], str]],
    policy: tuple[str, str],
    output_values: str,
    x: Any,
    y: Any,
) -> None:
    hit_policy, aggregation = policy
    model = table(
        [(entries, [output]) for entries, output in drawn],
        inputs=["x", "y"],
        hit_policy=hit_policy,
        aggregation=aggregation,
        output_values=output_values,
    )
    values = {"x": Decimal(x) if isinstance(x, int) and not isinstance(x, bool) else x, "y": y}
    assert _decide(model, values, compiled=True) == _decide(model, values, compiled=False)


def test_one_engine_reuses_the_compiled_table_and_still_decides_per_input() -> None:
    model = table([(["< 10"], ['"low"']), ([">= 10"], ['"high"'])], inputs=["x"])
    engine = DecisionEngine([model])
    assert engine.evaluate("d", {"x": Decimal(3)}).value == "low"
    assert engine.evaluate("d", {"x": Decimal(30)}).value == "high"
    assert len(engine.compiler.plans) == 1
