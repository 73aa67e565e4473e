"""The requirement graph: order, memoisation, cycles, imports."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isthmus.decisions import DecisionEngine, evaluate
from isthmus.errors import InvalidInput

from ._builders import input_data, literal_decision, model


def test_required_decisions_are_evaluated_first_and_reported() -> None:
    body = (
        input_data("x", "number")
        + literal_decision("double", "x * 2", requires=("x",))
        + literal_decision("total", "double + double + 1", decisions=("double",))
    )
    result = evaluate(model(body), "total", {"x": 4})
    assert result.value == Decimal(17)
    assert result.results == {"double": Decimal(8), "total": Decimal(17)}


def test_a_declared_input_is_visible_only_when_required() -> None:
    body = input_data("x", "number") + literal_decision("d", "x")
    assert evaluate(model(body), "d", {"x": 1}).value is None
    body = literal_decision("other", "1") + literal_decision("d", "other")
    assert evaluate(model(body), "d", {}).value is None


def test_undeclared_inputs_are_plain_variables_as_in_camunda_models() -> None:
    assert evaluate(model(literal_decision("d", "season")), "d", {"season": "Fall"}).value == "Fall"


def test_cycles_are_refused_naming_the_ids() -> None:
    body = literal_decision("a", "b", decisions=("b",)) + literal_decision("b", "a", decisions=("a",))
    with pytest.raises(InvalidInput, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        DecisionEngine([model(body)])


def test_a_dangling_reference_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not in the loaded models"):
        DecisionEngine([model(literal_decision("a", "1", decisions=("nope",)))])


def test_imported_decisions_are_reached_through_the_import_name() -> None:
    imported = model(
        input_data("Person name", "string")
        + literal_decision("Greeting", '"Hello " + Person name', requires=("Person name",)),
        model_ns="urn:imported",
        name="imported",
    )
    main = model(
        '<import namespace="urn:imported" name="lib" importType="https://www.omg.org/spec/DMN/20230324/MODEL/"/>'
        '<decision id="d" name="d"><informationRequirement><requiredDecision href="urn:imported#Greeting"/>'
        '</informationRequirement><literalExpression><text>lib.Greeting + "!"</text></literalExpression></decision>'
    )
    engine = DecisionEngine([main, imported])
    result = engine.evaluate("d", {}, namespaced_inputs={("urn:imported", "Person name"): "Ann"})
    assert result.value == "Hello Ann!"


def test_a_missing_import_is_refused() -> None:
    main = model('<import namespace="urn:gone" name="gone" importType="x"/>')
    with pytest.raises(InvalidInput, match="urn:gone"):
        DecisionEngine([main])


def test_load_dmn_set_reads_imported_models_beside_the_file() -> None:
    from pathlib import Path

    from isthmus.decisions import load_dmn_set

    main = Path(__file__).parent / "tck_extra" / "0006-import" / "0006-import.dmn"
    models = load_dmn_set(main)
    assert [m.name for m in models] == ["0006-import", "Library"]
    assert evaluate(models, "Welcome", {"visitor": {"name": "Ann"}}).value == "Hello, Ann"
