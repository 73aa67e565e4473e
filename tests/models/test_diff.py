"""Diff of two process versions: nodes and flows added, removed and changed."""

from __future__ import annotations

from isthmus.models import diff_processes, parse_bpmn

from ._builders import bpmn, line, straight


def test_added_removed_and_changed() -> None:
    before = parse_bpmn(
        bpmn('<startEvent id="s"/><userTask id="t" name="Check" isthmus:sla="PT10M"/><task id="old"/>'
             '<endEvent id="e"/>' + straight("s", "t", "e") + line("old", "e", "oe"))
    ).process("p")  # fmt: skip
    after = parse_bpmn(
        bpmn('<startEvent id="s"/><userTask id="t" name="Check stock" isthmus:sla="PT20M"/><task id="new"/>'
             '<endEvent id="e"/>' + straight("s", "t", "e") + line("new", "e", "ne", "=ok"))
    ).process("p")  # fmt: skip
    diff = diff_processes(before, after)
    assert [n.id for n in diff.nodes.added] == ["new"]
    assert [n.id for n in diff.nodes.removed] == ["old"]
    (changed,) = diff.nodes.changed
    assert changed.id == "t"
    assert dict(changed.fields) == {"name": ("Check", "Check stock"), "props.sla": ("PT10M", "PT20M")}
    assert [f.id for f in diff.flows.added] == ["ne"]
    assert [f.id for f in diff.flows.removed] == ["oe"]
    body = diff.as_dict()
    assert body["nodes"]["changed"][0]["fields"]["props.sla"] == {"before": "PT10M", "after": "PT20M"}
    assert not diff.is_empty


def test_rerouted_flow_and_condition_are_flow_changes_only() -> None:
    nodes = '<startEvent id="s"/><task id="a"/><task id="b"/><endEvent id="e"/>'
    before = parse_bpmn(
        bpmn(nodes + line("s", "a", "f1") + straight("a", "e") + line("b", "e", "be"))
    ).process("p")
    after = parse_bpmn(
        bpmn(nodes + line("s", "b", "f1") + straight("a", "e") + line("b", "e", "be"))
    ).process("p")
    diff = diff_processes(before, after)
    assert diff.nodes.changed == ()
    (flow,) = diff.flows.changed
    assert dict(flow.fields) == {"target": ("a", "b")}


def test_same_model_has_an_empty_diff() -> None:
    data = bpmn('<startEvent id="s"/><endEvent id="e"/>' + straight("s", "e"))
    assert diff_processes(parse_bpmn(data).process("p"), parse_bpmn(data).process("p")).is_empty
