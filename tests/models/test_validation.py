"""Validation names the element id, its line and what is wrong; warnings do not refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from isthmus.models import ModelProblem, Severity, errors_of, parse_bpmn, validate

from ._builders import bpmn, line, straight
from ._files import MIWG_FILES, fixture

START_END = '<startEvent id="s"/><endEvent id="e"/>'


def problems(data: bytes) -> list[ModelProblem]:
    return validate(parse_bpmn(data))


def messages(data: bytes) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems(data):
        found.setdefault(problem.element_id, []).append(problem.message)
    return found


def test_the_fixture_is_valid() -> None:
    assert validate(parse_bpmn(fixture("approval.bpmn"))) == []


@pytest.mark.parametrize("path", MIWG_FILES, ids=lambda p: p.stem)
def test_descriptive_miwg_models_have_no_errors(path: Path) -> None:
    model = parse_bpmn(path.read_bytes())
    if not model.executable_processes:
        assert errors_of(validate(model)) == []


def test_problem_names_file_line_and_element() -> None:
    data = bpmn(START_END + "\n" + '<task id="t"/>' + straight("s", "e") + line("t", "e", "te"))
    (problem,) = problems(data)
    assert problem.element_id == "t"
    assert problem.line == 6
    assert problem.describe("x.bpmn") == "x.bpmn:6: t: has no incoming sequence flow, so it can never run"
    assert problem.as_dict()["severity"] == "error"


def test_unreachable_cycle() -> None:
    body = (
        START_END
        + '<task id="a"/><task id="b"/>'
        + straight("s", "e")
        + line("a", "b")
        + line("b", "a", "ba")
    )
    found = messages(bpmn(body))
    assert found["a"] == ["is unreachable: no path leads to it from a start event"]
    assert found["b"] == ["is unreachable: no path leads to it from a start event"]


def test_missing_outgoing_and_start_event() -> None:
    found = messages(bpmn('<task id="t"/>'))
    assert "an executable process needs a start event" in found["p"]
    assert "has no outgoing sequence flow; end the path with an end event" in found["t"]


def test_gateway_conditions_and_default() -> None:
    body = (
        START_END
        + '<exclusiveGateway id="g"/><task id="a"/><task id="b"/>'
        + line("s", "g")
        + line("g", "a", "ga", "=x &gt; 1")
        + line("g", "b", "gb")
        + straight("a", "e")
        + line("b", "e", "be")
    )
    found = messages(bpmn(body))
    assert found["gb"] == ["leaves exclusive_gateway 'g' without a condition and is not its default flow"]
    (warning,) = [p for p in problems(bpmn(body)) if p.element_id == "g"]
    assert warning.severity is Severity.WARNING
    fixed = body.replace('<exclusiveGateway id="g"/>', '<exclusiveGateway id="g" default="gb"/>')
    assert problems(bpmn(fixed)) == []


def test_default_flow_must_be_outgoing_and_unconditioned() -> None:
    body = (
        START_END
        + '<exclusiveGateway id="g" default="s-g"/><task id="a"/>'
        + line("s", "g")
        + line("g", "a", "ga", "=true")
        + straight("a", "e")
    )
    assert messages(bpmn(body))["g"] == ["default flow 's-g' is not an outgoing flow"]


def test_condition_on_an_activity_flow_is_refused() -> None:
    body = START_END + '<task id="t"/>' + line("s", "t") + line("t", "e", "te", "=ok")
    assert "branch with an exclusive gateway" in messages(bpmn(body))["te"][0]


def test_feel_syntax_error_names_line_and_column_in_the_expression() -> None:
    body = (
        START_END
        + '<exclusiveGateway id="g" default="gb"/><task id="a"/><task id="b"/>'
        + line("s", "g")
        + line("g", "a", "ga", "=amount &gt;&gt; 3")
        + line("g", "b", "gb")
        + straight("a", "e")
        + line("b", "e", "be")
    )
    (problem,) = problems(bpmn(body))
    assert problem.element_id == "ga"
    assert problem.message.startswith("condition: FEEL syntax error at line 1, column 9 of 'amount >> 3'")


def test_juel_is_refused_as_unsupported() -> None:
    body = (
        START_END
        + '<exclusiveGateway id="g" default="gb"/><task id="a"/>'
        + line("s", "g")
        + line("g", "a", "ga", "${approved}")
        + line("g", "e", "gb")
        + straight("a", "e")
    )
    assert "JUEL expressions like '${approved}' are not supported" in messages(bpmn(body))["ga"][0]


def test_feel_in_mappings_scripts_and_multi_instance() -> None:
    body = (
        START_END
        + '<scriptTask id="t"><extensionElements><zeebe:script expression="=1 +" resultVariable="r"/>'
        + '<zeebe:ioMapping><zeebe:input source="=(a" target="x"/><zeebe:input source="static" target="y"/>'
        + "</zeebe:ioMapping></extensionElements>"
        + "<multiInstanceLoopCharacteristics><loopCardinality>=[1,</loopCardinality>"
        + "</multiInstanceLoopCharacteristics></scriptTask>"
        + straight("s", "t", "e")
    )
    found = messages(bpmn(body))["t"]
    assert sorted(m.split(":")[0] for m in found) == ["cardinality", "mapping to 'x'", "script"]


def test_undefined_refs_and_boundary_attached_to_nothing() -> None:
    body = (
        START_END
        + '<receiveTask id="r" messageRef="nope"/>'
        + '<boundaryEvent id="b" attachedToRef="ghost"><errorEventDefinition errorRef="missing"/></boundaryEvent>'
        + '<intermediateCatchEvent id="c"><signalEventDefinition signalRef="sig"/></intermediateCatchEvent>'
        + straight("s", "r", "c", "e")
        + line("b", "e", "be")
    )
    found = messages(bpmn(body))
    assert found["r"] == ["refers to message 'nope', which is not defined"]
    assert "boundary event is attached to 'ghost', not an activity" in found["b"]
    assert "refers to error 'missing', which is not defined" in found["b"]
    assert found["c"] == ["refers to signal 'sig', which is not defined"]


def test_timers_must_be_iso_8601() -> None:
    body = (
        START_END
        + '<intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>PT1X</timeDuration>'
        + "</timerEventDefinition></intermediateCatchEvent>"
        + '<intermediateCatchEvent id="d"><timerEventDefinition><timeDate>tomorrow</timeDate>'
        + "</timerEventDefinition></intermediateCatchEvent>"
        + '<intermediateCatchEvent id="c"><timerEventDefinition><timeCycle>R3/PT1H</timeCycle>'
        + "</timerEventDefinition></intermediateCatchEvent>"
        + straight("s", "w", "d", "c", "e")
    )
    found = messages(bpmn(body))
    assert found["w"] == ["timer duration: 'PT1X' is not an ISO 8601 duration such as PT10M or P1DT2H"]
    assert found["d"][0].startswith("timer date: 'tomorrow' is not an ISO 8601 date-time")
    assert "c" not in found


def test_unsupported_elements_are_refused_with_their_id() -> None:
    body = (
        START_END
        + '<complexGateway id="cg"/>'
        + '<intermediateThrowEvent id="l"><linkEventDefinition name="x"/></intermediateThrowEvent>'
        + straight("s", "cg", "l", "e")
    )
    found = messages(bpmn(body))
    assert found["cg"] == ["<complexGateway> is not supported by the Isthmus engine"]
    assert "<linkEventDefinition> is not supported by the Isthmus engine" in found["l"]


def test_non_executable_processes_get_structural_warnings_only() -> None:
    data = bpmn('<task id="t"/>' + line("t", "ghost"), executable=False)
    (problem,) = problems(data)
    assert problem.severity is Severity.WARNING
    assert problem.message == "target 'ghost' is not a flow node of 'p'"


def test_bindings_and_properties() -> None:
    body = (
        START_END
        + '<serviceTask id="svc" isthmus:sla="ten minutes"/>'
        + '<businessRuleTask id="brt"/>'
        + '<userTask id="u" isthmus:formFields="not json"/>'
        + straight("s", "svc", "brt", "u", "e")
    )
    found = messages(bpmn(body))
    assert "a service_task needs a binding" in found["svc"][0]
    assert found["svc"][1].startswith("isthmus:sla: 'ten minutes' is not an ISO 8601 duration")
    assert found["brt"][0].startswith("a business_rule_task needs a decision")
    assert found[""][0].startswith("isthmus:formFields must be a JSON list")


def test_event_subprocess_and_sub_process_rules() -> None:
    body = (
        START_END
        + '<subProcess id="sub"><task id="inner"/></subProcess>'
        + '<subProcess id="evt" triggeredByEvent="true"><startEvent id="es"/><endEvent id="ee"/>'
        + line("es", "ee")
        + "</subProcess>"
        + straight("s", "sub", "e")
    )
    found = messages(bpmn(body))
    assert "a sub-process needs exactly one start event, not 0" in found["sub"]
    assert found["es"] == ["an event sub-process cannot start on a none event"]


def test_duplicate_ids() -> None:
    body = START_END + '<task id="s"/>' + straight("s", "e")
    assert "the id is used more than once" in messages(bpmn(body))["s"]


def test_a_feel_error_on_the_second_line_of_a_condition_points_at_that_line() -> None:
    body = (
        START_END
        + '<exclusiveGateway id="g" default="gb"/><task id="a"/>'
        + line("s", "g")
        + line("g", "a", "ga", "=amount &gt; 1 and\n  (")
        + line("g", "e", "gb")
        + straight("a", "e")
    )
    (problem,) = problems(bpmn(body))
    assert (problem.element_id, problem.line) == ("ga", 6)
    assert "FEEL syntax error at line 2" in problem.message
