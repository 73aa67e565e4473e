"""Parsing: hardened XML, the specs of each element, properties from three dialects."""

from __future__ import annotations

import pytest

from isthmus.errors import InvalidInput, NotFound, PayloadTooLarge, SyntaxProblem
from isthmus.models import (
    MAX_BYTES,
    EventKind,
    FormField,
    IoMapping,
    NodeKind,
    TimerKind,
    TimerSpec,
    content_hash,
    parse_bpmn,
)

from ._files import fixture

BPMN_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
)


def test_approval_fixture_reads_nodes_flows_and_refs() -> None:
    data = fixture("approval.bpmn")
    model = parse_bpmn(data, source="approval.bpmn")
    assert model.id == "approval-definitions"
    assert model.content_hash == content_hash(data)
    process = model.process("approval")
    assert process.is_executable
    assert process.name == "Order approval"
    assert [n.id for n in process.start_events()] == ["start"]
    gateway = process.nodes["which-tier"]
    assert gateway.kind is NodeKind.EXCLUSIVE_GATEWAY
    assert gateway.outgoing == ("to-approve", "to-auto")
    assert gateway.default_flow == "to-auto"
    assert process.flows["to-approve"].condition == 'tier != "auto"'
    assert process.flows["to-auto"].condition is None
    assert process.nodes["merge"].incoming == ("f5", "f6")
    assert model.messages["msg-paid"].correlation_key == "order_id"
    assert model.errors["err-stock"].code == "OUT_OF_STOCK"
    assert set(model.signals) == {"sig-recall"}


def test_properties_from_isthmus_attributes() -> None:
    process = parse_bpmn(fixture("approval.bpmn")).process("approval")
    enter = process.nodes["enter"].props
    assert (enter.owner, enter.sla, enter.role) == ("sales.rep", "PT30M", "Sales")
    assert enter.candidate_groups == ("sales",)
    assert enter.form_fields == (
        FormField("amount", "Amount", "number", required=True),
        FormField("region", "Region", "enum", options=("north", "south")),
    )
    assert enter.outputs == (IoMapping("amount * 1", "order_amount"),)
    approve = process.nodes["approve"].props
    assert approve.control_point
    assert approve.four_eyes
    assert approve.role == "Department manager"
    assert approve.candidate_groups == ("managers", "directors")
    assert approve.due_date == "P1D"
    stock = process.nodes["stock"].props
    assert stock.task_type == "flow:erp-stock"
    assert stock.retries == 5
    assert stock.inputs == (IoMapping("order_amount", "amount"),)
    assert process.nodes["remind"].props.task_type == "email"


def test_business_rule_script_and_events() -> None:
    process = parse_bpmn(fixture("approval.bpmn")).process("approval")
    tier = process.nodes["tier"]
    assert (tier.props.decision_ref, tier.props.result_variable) == ("approval_tier", "tier")
    auto = process.nodes["auto"].props
    assert (auto.script, auto.script_format, auto.result_variable) == ("true", "feel", "approved")
    late = process.nodes["late"]
    assert late.kind is NodeKind.BOUNDARY_EVENT
    assert late.attached_to == "approve"
    assert not late.cancel_activity
    assert late.event is not None
    assert late.event.timer == TimerSpec(TimerKind.DURATION, "PT4H")
    no_stock = process.nodes["no-stock"]
    assert no_stock.cancel_activity
    assert no_stock.event is not None
    assert (no_stock.event.kind, no_stock.event.ref) == (
        EventKind.ERROR,
        "err-stock",
    )
    assert [b.id for b in process.boundary_events("stock")] == ["no-stock"]
    end = process.nodes["cancelled"]
    assert end.event is not None
    assert end.event.kind is EventKind.TERMINATE
    assert process.nodes["enter"].event is None


def test_zeebe_dialect() -> None:
    data = (
        BPMN_HEAD.replace(b' id="d">', b' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d">')
        + b"""
      <process id="p" isExecutable="true">
        <userTask id="t">
          <extensionElements>
            <zeebe:assignmentDefinition assignee="=initiator" candidateGroups="a, b" candidateUsers="u1"/>
            <zeebe:taskSchedule dueDate="=now() + duration(&quot;P1D&quot;)"/>
            <zeebe:formDefinition formKey="camunda-forms:bpmn:f"/>
          </extensionElements>
          <multiInstanceLoopCharacteristics isSequential="true">
            <extensionElements>
              <zeebe:loopCharacteristics inputCollection="=items" inputElement="item"
                  outputCollection="results" outputElement="=result"/>
            </extensionElements>
            <completionCondition>=nrOfCompletedInstances &gt;= 2</completionCondition>
          </multiInstanceLoopCharacteristics>
        </userTask>
        <callActivity id="c">
          <extensionElements>
            <zeebe:calledElement processId="child" bindingType="deployment"/>
            <zeebe:taskHeaders><zeebe:header key="k" value="v"/></zeebe:taskHeaders>
          </extensionElements>
        </callActivity>
        <intermediateCatchEvent id="wait">
          <timerEventDefinition><timeDate>=due</timeDate></timerEventDefinition>
        </intermediateCatchEvent>
      </process>
    </definitions>"""
    )
    process = parse_bpmn(data).process("p")
    task = process.nodes["t"]
    assert task.props.assignee == "initiator"
    assert task.props.candidate_groups == ("a", "b")
    assert task.props.candidate_users == ("u1",)
    assert task.props.due_date == 'now() + duration("P1D")'
    assert task.props.form_key == "camunda-forms:bpmn:f"
    mi = task.multi_instance
    assert mi is not None
    assert mi.sequential
    assert (mi.collection, mi.element_variable) == ("items", "item")
    assert (mi.output_collection, mi.output_element) == ("results", "result")
    assert mi.completion_condition == "nrOfCompletedInstances >= 2"
    call = process.nodes["c"].props
    assert (call.called_element, call.called_version_binding) == ("child", "deployment")
    assert dict(call.headers) == {"k": "v"}
    wait = process.nodes["wait"].event
    assert wait is not None
    assert wait.timer == TimerSpec(TimerKind.DATE, "due", feel=True)


def test_camunda7_dialect() -> None:
    data = (
        BPMN_HEAD.replace(b' id="d">', b' xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">')
        + b"""
      <process id="p" isExecutable="true">
        <serviceTask id="s" camunda:type="external" camunda:topic="billing"/>
        <serviceTask id="j" camunda:class="com.acme.Bill"/>
        <businessRuleTask id="b" camunda:decisionRef="tier" camunda:resultVariable="r"/>
        <callActivity id="c" calledElement="child" camunda:calledElementBinding="version"
                      camunda:calledElementVersion="3"/>
        <userTask id="u" camunda:assignee="demo" camunda:formKey="embedded:app:f.html">
          <extensionElements>
            <camunda:formData>
              <camunda:formField id="ok" label="OK?" type="boolean">
                <camunda:validation><camunda:constraint name="required"/></camunda:validation>
              </camunda:formField>
              <camunda:formField id="level" type="enum"><camunda:value id="hi" name="High"/></camunda:formField>
            </camunda:formData>
            <camunda:inputOutput>
              <camunda:inputParameter name="amount">${order.amount}</camunda:inputParameter>
              <camunda:inputParameter name="label">fixed</camunda:inputParameter>
              <camunda:outputParameter name="x">${a + b}</camunda:outputParameter>
            </camunda:inputOutput>
          </extensionElements>
          <multiInstanceLoopCharacteristics camunda:collection="${items}" camunda:elementVariable="item">
            <loopCardinality>3</loopCardinality>
          </multiInstanceLoopCharacteristics>
        </userTask>
      </process>
    </definitions>"""
    )
    process = parse_bpmn(data).process("p")
    assert process.nodes["s"].props.task_type == "billing"
    assert process.nodes["j"].props.task_type == "com.acme.Bill"
    assert (process.nodes["b"].props.decision_ref, process.nodes["b"].props.result_variable) == ("tier", "r")
    assert process.nodes["c"].props.called_version_binding == "version:3"
    user = process.nodes["u"]
    assert (user.props.assignee, user.props.form_key) == ("demo", "embedded:app:f.html")
    assert user.props.form_fields == (
        FormField("ok", "OK?", "boolean", required=True),
        FormField("level", "", "enum", options=("hi",)),
    )
    assert user.props.inputs == (IoMapping("order.amount", "amount"), IoMapping('"fixed"', "label"))
    assert user.props.outputs == (IoMapping("${a + b}", "x"),)
    assert user.multi_instance is not None
    assert (user.multi_instance.collection, user.multi_instance.cardinality) == ("items", "3")
    assert not user.multi_instance.sequential


def test_embedded_and_event_subprocess_bodies() -> None:
    data = (
        BPMN_HEAD
        + b"""
      <process id="p" isExecutable="true">
        <startEvent id="s"/>
        <subProcess id="sub">
          <startEvent id="s2"/><endEvent id="e2"/>
          <sequenceFlow id="g1" sourceRef="s2" targetRef="e2"/>
        </subProcess>
        <subProcess id="on-error" triggeredByEvent="true">
          <startEvent id="es" isInterrupting="false"><signalEventDefinition signalRef="x"/></startEvent>
        </subProcess>
        <endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
        <sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>
      </process>
    </definitions>"""
    )
    process = parse_bpmn(data).process("p")
    sub = process.nodes["sub"]
    assert sub.subprocess is not None
    assert sub.subprocess.nodes["s2"].outgoing == ("g1",)
    assert set(process.nodes) == {"s", "sub", "on-error", "e"}
    event_sub = process.nodes["on-error"]
    assert event_sub.triggered_by_event
    assert event_sub.subprocess is not None
    start = event_sub.subprocess.nodes["es"]
    assert not start.cancel_activity
    assert start.event is not None
    assert start.event.kind is EventKind.SIGNAL
    assert process.find("e2") is not None
    scope = process.scope_of("e2")
    assert scope is not None
    assert scope.id == "sub"
    assert [n.id for _, n in process.walk()] == ["s", "sub", "s2", "e2", "on-error", "es", "e"]


def test_unknown_process_names_the_known_ones() -> None:
    with pytest.raises(NotFound, match="approval"):
        parse_bpmn(fixture("approval.bpmn")).process("nope")


def test_malformed_xml_names_line_and_column() -> None:
    with pytest.raises(SyntaxProblem) as caught:
        parse_bpmn(b"<definitions>\n  <process id='p'>\n</definitions>", source="bad.bpmn")
    assert caught.value.location is not None
    assert caught.value.location.file == "bad.bpmn"
    assert caught.value.location.line == 3


def test_doctype_and_entities_are_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</definitions>'
    )
    with pytest.raises(InvalidInput, match="DOCTYPE") as caught:
        parse_bpmn(xxe)
    assert caught.value.location is not None
    assert caught.value.location.line == 2


def test_size_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_bpmn(BPMN_HEAD + b" " * MAX_BYTES + b"</definitions>")


def test_not_bpmn() -> None:
    with pytest.raises(InvalidInput, match=r"not a BPMN 2\.0 file"):
        parse_bpmn(b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>')


def test_async_before_from_isthmus_and_camunda7_and_export_keeps_it() -> None:
    data = (
        BPMN_HEAD.replace(
            b' id="d">',
            b' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
            b' xmlns:isthmus="https://isthmus.dev/schema/bpmn" id="d">',
        )
        + b"""
      <process id="p" isExecutable="true">
        <serviceTask id="c7" camunda:asyncBefore="true" camunda:topic="billing"/>
        <serviceTask id="ours" isthmus:async="true" isthmus:handler="bill"/>
        <serviceTask id="off" camunda:asyncBefore="false" camunda:topic="billing"/>
        <serviceTask id="plain" camunda:topic="billing"/>
      </process>
    </definitions>"""
    )
    model = parse_bpmn(data)
    nodes = model.process("p").nodes
    assert [nodes[n].props.async_before for n in ("c7", "ours", "off", "plain")] == [True, True, False, False]
    again = parse_bpmn(model.to_xml())
    assert again.process("p").nodes == nodes
    assert b'camunda:asyncBefore="true"' in model.to_xml()
    assert b'isthmus:async="true"' in model.to_xml()
