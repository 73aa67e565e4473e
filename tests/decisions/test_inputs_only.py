"""A decision that requires only input data (``DecisionEngine._inputs_only``) is evaluated as the
requirement-graph walk evaluates it: value, results, warnings and matched rules agree.

Models are generated: typed input data (a declared type that coerces, a wrong type that warns,
an input given twice through two requirements), inputs nobody declared (read as plain variables),
a decision typeRef, a table or a literal expression.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isthmus.decisions import DecisionEngine, Definitions
from isthmus.decisions import _engine as engine_module

from ._builders import input_data, literal_decision, model, table

TYPES = ["Any", "number", "string", "boolean", "date"]
LITERALS = ["x + 1", 'if x > 2 then "big" else "small"', "y", "x + other", "string(x) + y"]

values = st.one_of(
    st.none(),
    st.integers(-3, 6).map(Decimal),
    st.sampled_from(["a", "b", "2024-01-02"]),
    st.booleans(),
)


def _decide(dmn: Definitions, inputs: dict[str, Any], *, direct: bool) -> tuple[Any, ...]:
    engine = DecisionEngine([dmn])
    with pytest.MonkeyPatch.context() as patch:
        if not direct:
            patch.setattr(engine_module.DecisionEngine, "_inputs_only", lambda self, key, m, e: None)
        first = engine.evaluate("d", inputs)
        again = engine.evaluate("d", inputs)  # the second call reads what the first worked out
    assert again == first
    return first.value, dict(first.results), first.warnings, dict(first.matched_rules)


def _literal_model(text: str, x_type: str, y_type: str, decision_type: str, twice: bool) -> Definitions:
    requires = ("x", "y", "x") if twice else ("x", "y")
    body = literal_decision("d", text, type_ref=decision_type, requires=requires)
    return model(body + input_data("x", x_type) + input_data("y", y_type))


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=120)
@given(
    st.sampled_from(LITERALS),
    st.sampled_from(TYPES),
    st.sampled_from(TYPES),
    st.sampled_from(TYPES),
    st.booleans(),
    values,
    values,
    st.one_of(st.none(), values),
)
def test_a_literal_decision_on_input_data_decides_as_the_graph_walk(
    text: str, x_type: str, y_type: str, decision_type: str, twice: bool, x: Any, y: Any, other: Any
) -> None:
    dmn = _literal_model(text, x_type, y_type, decision_type, twice)
    inputs: dict[str, Any] = {"x": x, "y": y}
    if other is not None:
        inputs["other"] = other
    assert _decide(dmn, inputs, direct=True) == _decide(dmn, inputs, direct=False)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=80)
@given(st.sampled_from(["UNIQUE", "FIRST", "COLLECT"]), st.sampled_from(TYPES), values, values)
def test_a_table_on_input_data_decides_as_the_graph_walk(policy: str, type_ref: str, x: Any, y: Any) -> None:
    dmn = table(
        [(["< 3", "-"], ['"low"']), ([">= 2", '"a"'], ['"high"']), (["-", "-"], ["x"])],
        inputs=["x", "y"],
        hit_policy=policy,
        type_ref=type_ref,
    )
    inputs = {"x": x, "y": y}
    assert _decide(dmn, inputs, direct=True) == _decide(dmn, inputs, direct=False)


def test_a_decision_that_requires_another_takes_the_graph_walk() -> None:
    body = (
        literal_decision("d", "e + 1", decisions=("e",))
        + literal_decision("e", "x * 2", requires=("x",))
        + input_data("x", "number")
    )
    engine = DecisionEngine([model(body)])
    result = engine.evaluate("d", {"x": Decimal(2)})
    assert result.value == Decimal(5)
    assert result.results == {"d": Decimal(5), "e": Decimal(4)}
    assert engine._inputs_only(("d", None), *engine.models.find("d")) is None
    assert engine._inputs_only(("e", None), *engine.models.find("e")) is not None
