from __future__ import annotations

from pathlib import Path

import pytest

from isthmus.decisions import DMN_NAMESPACES, HitPolicy, load_dmn, parse_dmn
from isthmus.decisions._model import Decision, DecisionTable, LiteralExpression
from isthmus.errors import InvalidInput, SyntaxProblem

DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parents[2] / "src" / "isthmus" / "demo" / "decisions"


@pytest.mark.parametrize("namespace", sorted(DMN_NAMESPACES))
def test_every_dmn_version_namespace_parses(namespace: str) -> None:
    text = (
        f'<definitions xmlns="{namespace}" name="n" namespace="urn:n" id="x">'
        '<decision id="d" name="d"><literalExpression><text>1 + 1</text></literalExpression></decision>'
        "</definitions>"
    )
    decision = parse_dmn(text).element("d")
    assert isinstance(decision, Decision)
    assert decision.expression == LiteralExpression("1 + 1", None, 1)


def test_a_foreign_root_is_refused_with_its_name() -> None:
    with pytest.raises(InvalidInput, match="not a DMN file"):
        parse_dmn('<definitions xmlns="urn:other"/>', source="x.dmn")


def test_malformed_xml_names_file_and_line() -> None:
    with pytest.raises(SyntaxProblem) as caught:
        parse_dmn("<definitions>\n<decision>\n</definitions>", source="bad.dmn")
    assert caught.value.location is not None
    assert caught.value.location.file == "bad.dmn"
    assert caught.value.location.line == 3
    assert "bad.dmn, line 3" in caught.value.message


def test_xxe_is_refused_and_never_reads_the_file() -> None:
    with pytest.raises(InvalidInput, match="DOCTYPE") as caught:
        load_dmn(DATA / "xxe.dmn")
    assert "root:" not in caught.value.message


def test_billion_laughs_is_refused_without_expansion() -> None:
    with pytest.raises(InvalidInput, match="DOCTYPE"):
        load_dmn(DATA / "billion-laughs.dmn")


def test_a_missing_required_attribute_names_the_line() -> None:
    text = '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" namespace="urn:x">\n<inputData/>\n</definitions>'
    with pytest.raises(InvalidInput, match=r"line 2.*'name'"):
        parse_dmn(text, source="m.dmn")


def test_an_unreadable_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_dmn(tmp_path / "missing.dmn")


def test_camunda_model_with_extension_attributes_loads() -> None:
    definitions = load_dmn(DATA / "camunda-dish.dmn")
    decision = definitions.element("Dish")
    assert isinstance(decision, Decision)
    assert isinstance(decision.expression, DecisionTable)
    assert decision.expression.hit_policy is HitPolicy.UNIQUE
    assert len(decision.expression.rules) == 3


def test_demo_models_are_dmn_13_with_chinese_labels() -> None:
    approval = load_dmn(DEMO / "tiered-approval.dmn")
    element = approval.element("approval_route")
    assert element is not None
    assert element.name == "Approval route"
    assert element.label == "审批路由"
