"""The BPMN MIWG reference models import without error and export round-trip equal."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from isthmus.models import parse_bpmn, same_document

from ._files import MIWG_FILES


def test_the_whole_reference_set_is_there() -> None:
    assert len(MIWG_FILES) == 21


@pytest.mark.parametrize("path", MIWG_FILES, ids=lambda p: p.stem)
def test_imports_and_round_trips(path: Path) -> None:
    data = path.read_bytes()
    model = parse_bpmn(data, source=path.name)
    assert model.processes
    exported = model.to_xml()
    assert exported == data
    assert same_document(model.serialize(), data)
    again = parse_bpmn(model.serialize())
    assert again.processes == model.processes
    assert again.messages == model.messages
    assert parse_bpmn(exported) == model


@pytest.mark.parametrize("path", MIWG_FILES, ids=lambda p: p.stem)
def test_every_flow_node_is_read(path: Path) -> None:
    """Each flow node of the file appears once in the specs (none dropped, none duplicated)."""
    model = parse_bpmn(path.read_bytes())
    root = model.tree().getroot()
    kinds = {
        "startEvent", "endEvent", "task", "userTask", "serviceTask", "scriptTask", "businessRuleTask",
        "sendTask", "receiveTask", "manualTask", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
        "eventBasedGateway", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
        "subProcess", "callActivity",
    }  # fmt: skip
    in_xml = sorted(
        e.get("id") or ""
        for e in root.iter()
        if isinstance(e.tag, str) and e.tag.split("}")[-1] in kinds and _parent_is_a_scope(e)
    )
    in_specs = sorted(n.id for p in model.processes for _, n in p.walk())
    assert in_specs == in_xml


def _parent_is_a_scope(element: etree._Element) -> bool:
    parent = element.getparent()
    return parent is not None and str(parent.tag).split("}")[-1] in {"process", "subProcess"}
