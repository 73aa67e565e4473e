"""Type conformance and the singleton-list conversions (DMN 1.5 §10.3.2.9.4)."""

from __future__ import annotations

from decimal import Decimal

from isthmus.decisions import evaluate

from ._builders import literal_decision, model

TYPES = """
<itemDefinition name="tSmall"><typeRef>number</typeRef><allowedValues><text>[1..10]</text></allowedValues></itemDefinition>
<itemDefinition name="tNames" isCollection="true"><typeRef>string</typeRef></itemDefinition>
<itemDefinition name="tPerson">
  <itemComponent name="name"><typeRef>string</typeRef></itemComponent>
  <itemComponent name="age"><typeRef>number</typeRef></itemComponent>
</itemDefinition>
"""


def _value(text: str, type_ref: str) -> object:
    return evaluate(model(TYPES + literal_decision("d", text, type_ref=type_ref)), "d", {}).value


def test_a_conforming_value_passes() -> None:
    assert _value("5", "tSmall") == Decimal(5)
    assert _value('"x"', "string") == "x"


def test_a_non_conforming_value_becomes_null() -> None:
    assert _value('"x"', "number") is None
    assert _value("11", "tSmall") is None


def test_from_singleton_list() -> None:
    assert _value('["x"]', "string") == "x"
    assert _value('["x", "y"]', "string") is None


def test_to_singleton_list() -> None:
    assert _value('"x"', "tNames") == ["x"]
    assert _value('["x", 1]', "tNames") is None


def test_structured_types_check_their_components() -> None:
    assert _value('{name: "Ann", age: 30}', "tPerson") == {"name": "Ann", "age": Decimal(30)}
    assert _value('{name: "Ann", age: "old"}', "tPerson") is None


def test_builtin_aliases_and_qualified_names() -> None:
    assert _value("1", "feel:number") == Decimal(1)
    assert _value('date("2024-01-02")', "date") is not None
    assert _value('date("2024-01-02")', "dateTime") is None


def test_input_data_is_coerced_on_the_way_in() -> None:
    body = (
        TYPES
        + '<inputData id="i" name="i"><variable name="i" typeRef="tSmall"/></inputData>'
        + literal_decision("d", "i", requires=("i",))
    )
    assert evaluate(model(body), "d", {"i": 3}).value == Decimal(3)
    assert evaluate(model(body), "d", {"i": 30}).value is None
