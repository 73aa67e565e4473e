"""Checks a model before it is deployed: what would not run, or would run wrong, is named here.

Every problem names the element id and its line. Rules fall in two groups:

- *structural* — true of any BPMN file (a flow to a node that does not exist, a default flow that is
  not outgoing, a boundary event attached to nothing, an undefined message, a duplicate id). They
  are errors in executable processes and warnings elsewhere, so descriptive models (most MIWG
  files) still import, check and export.
- *executable* — only for ``isExecutable="true"`` processes, the ones the engine would run:
  reachability, gateway conditions, FEEL syntax, timers, bindings, and elements the engine does not
  support (refused at deployment, never mis-run).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from isthmus.errors import IsthmusError
from isthmus.feel import FeelSyntaxError, compile_expression
from isthmus.models._iso8601 import IsoCycle, IsoDuration, parse_datetime
from isthmus.models._model import BpmnModel
from isthmus.models._reader import BPMN_NS, BPMNDI_NS
from isthmus.models._specs import (
    SUPPORTED_EVENT_KINDS,
    EventKind,
    FlowSpec,
    MultiInstanceSpec,
    NodeKind,
    NodeSpec,
    ProcessSpec,
    RefSpec,
    TimerKind,
    TimerSpec,
)
from isthmus.models._xml import line_of, namespace_of


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class ModelProblem:
    """One finding: the element it is about, the line of that element, what is wrong.

    Errors refuse a deployment; warnings are shown and let it pass.
    """

    element_id: str
    line: int
    message: str
    severity: Severity = Severity.ERROR
    rule: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def describe(self, file: str) -> str:
        """``FILE:LINE: ELEMENT_ID: message`` — the one-line form of ``isthmus bpmn check``
        (``FILE:LINE: ELEMENT_ID: warning: message`` for a warning)."""
        marker = "" if self.is_error else "warning: "
        return f"{file}:{self.line}: {self.element_id or '-'}: {marker}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "element_id": self.element_id,
            "line": self.line,
            "message": self.message,
            "severity": self.severity.value,
            "rule": self.rule,
        }


_CATCH_KINDS = {
    NodeKind.START_EVENT: {EventKind.NONE, EventKind.MESSAGE, EventKind.TIMER, EventKind.SIGNAL},
    NodeKind.INTERMEDIATE_CATCH_EVENT: {EventKind.MESSAGE, EventKind.TIMER, EventKind.SIGNAL},
    NodeKind.BOUNDARY_EVENT: {
        EventKind.MESSAGE,
        EventKind.TIMER,
        EventKind.SIGNAL,
        EventKind.ERROR,
        EventKind.ESCALATION,
    },
    NodeKind.INTERMEDIATE_THROW_EVENT: {
        EventKind.NONE,
        EventKind.MESSAGE,
        EventKind.SIGNAL,
        EventKind.ESCALATION,
    },
    NodeKind.END_EVENT: {
        EventKind.NONE,
        EventKind.MESSAGE,
        EventKind.SIGNAL,
        EventKind.ERROR,
        EventKind.ESCALATION,
        EventKind.TERMINATE,
    },
}
#: An event sub-process may also start on an error or escalation raised inside its parent.
_EVENT_SUBPROCESS_STARTS = {
    EventKind.MESSAGE,
    EventKind.TIMER,
    EventKind.SIGNAL,
    EventKind.ERROR,
    EventKind.ESCALATION,
}
_NEEDS_REF = {EventKind.MESSAGE: "message", EventKind.SIGNAL: "signal"}
_EVENT_GATEWAY_TARGETS = {EventKind.MESSAGE, EventKind.TIMER, EventKind.SIGNAL}
_BRANCHING = {NodeKind.EXCLUSIVE_GATEWAY, NodeKind.INCLUSIVE_GATEWAY}


def validate(model: BpmnModel) -> list[ModelProblem]:
    """Every problem of ``model``, errors and warnings, ordered by line.

    Example:
        >>> from isthmus.models import parse_bpmn
        >>> [p.message for p in validate(parse_bpmn(open("tests/data/bpmn/approval.bpmn", "rb").read()))]
        []
    """
    checker = _Checker(model)
    checker.run()
    return sorted(checker.problems, key=lambda p: (p.line, p.element_id, p.message))


_ESCALATE_RULE = r"\s*(?:reassign|notify)\s*:\s*(?:(?:user|group)\s*:\s*)?[^:;,\s][^:;]*"
_ESCALATE = re.compile(rf"{_ESCALATE_RULE}(?:;{_ESCALATE_RULE})*;?\s*")


def errors_of(problems: Iterable[ModelProblem]) -> list[ModelProblem]:
    return [p for p in problems if p.is_error]


class _Checker:
    def __init__(self, model: BpmnModel) -> None:
        self.model = model
        self.problems: list[ModelProblem] = []
        self.strict = True

    def add(self, element_id: str, line: int, message: str, rule: str, *, warning: bool = False) -> None:
        severity = Severity.WARNING if warning or not self.strict else Severity.ERROR
        self.problems.append(ModelProblem(element_id, line, message, severity, rule))

    def run(self) -> None:
        self.strict = bool(self.model.executable_processes)
        self.duplicate_ids()
        for line, message in self.model.reader_problems:
            self.add("", line, message, "unreadable_property")
        for process in self.model.processes:
            self.strict = process.is_executable
            for scope, node in process.walk():
                self.structure(scope, node)
            for scope, flow in process.walk_flows():
                self.flow_ends(scope, flow)
            if process.is_executable:
                _Executable(self, process).run()

    # -- structural rules, for every process ------------------------------------------------------

    def duplicate_ids(self) -> None:
        """Ids of BPMN and BPMN DI elements must be unique (vendor extensions keep their own ids)."""
        root = self.model.tree().getroot()
        owned = [e for e in root.iter() if namespace_of(e) in (BPMN_NS, BPMNDI_NS) and e.get("id")]
        ids = Counter(e.get("id") for e in owned)
        for element in owned:
            element_id = element.get("id")
            if element_id and ids[element_id] > 1:
                self.add(element_id, line_of(element), "the id is used more than once", "duplicate_id")

    def structure(self, scope: ProcessSpec, node: NodeSpec) -> None:
        if node.default_flow and node.default_flow not in node.outgoing:
            self.add(
                node.id,
                node.line,
                f"default flow {node.default_flow!r} is not an outgoing flow",
                "default_flow",
            )
        if node.kind is NodeKind.BOUNDARY_EVENT:
            target = scope.nodes.get(node.attached_to or "")
            if target is None or not target.kind.is_activity:
                what = repr(node.attached_to) if node.attached_to else "nothing"
                self.add(
                    node.id, node.line, f"boundary event is attached to {what}, not an activity", "boundary"
                )
        if node.event is not None and node.event.ref:
            self.reference(node, node.event.kind, node.event.ref)
        if node.props.message_ref:
            self.reference(node, EventKind.MESSAGE, node.props.message_ref)

    def reference(self, node: NodeSpec, kind: EventKind, ref: str) -> None:
        known: dict[EventKind, tuple[str, dict[str, RefSpec]]] = {
            EventKind.MESSAGE: ("message", dict(self.model.messages)),
            EventKind.SIGNAL: ("signal", dict(self.model.signals)),
            EventKind.ERROR: ("error", dict(self.model.errors)),
            EventKind.ESCALATION: ("escalation", dict(self.model.escalations)),
        }
        if kind in known and ref not in known[kind][1]:
            name = known[kind][0]
            self.add(node.id, node.line, f"refers to {name} {ref!r}, which is not defined", "undefined_ref")

    def flow_ends(self, scope: ProcessSpec, flow: FlowSpec) -> None:
        for end, node_id in (("source", flow.source), ("target", flow.target)):
            if node_id not in scope.nodes:
                self.add(
                    flow.id, flow.line, f"{end} {node_id!r} is not a flow node of {scope.id!r}", "flow_end"
                )


class _Executable:
    """The rules for one executable process (and its sub-processes)."""

    def __init__(self, checker: _Checker, process: ProcessSpec) -> None:
        self.c = checker
        self.process = process

    def run(self) -> None:
        if not self.process.start_events():
            self.c.add(
                self.process.id, self.process.line, "an executable process needs a start event", "no_start"
            )
        self.scopes(self.process, event_subprocess=False)
        for scope, node in self.process.walk():
            self.node(scope, node)
        for scope, flow in self.process.walk_flows():
            self.flow(scope, flow)

    def scopes(self, scope: ProcessSpec, *, event_subprocess: bool) -> None:
        for item in scope.unsupported:
            self.c.add(
                item.id, item.line, f"<{item.element}> is not supported by the Isthmus engine", "unsupported"
            )
        self.reachability(scope)
        starts = scope.start_events()
        if scope is not self.process and len(starts) != 1:
            self.c.add(
                scope.id,
                scope.line,
                f"a sub-process needs exactly one start event, not {len(starts)}",
                "start",
            )
        for start in starts if event_subprocess else ():
            kind = start.event.kind if start.event else EventKind.NONE
            if kind not in _EVENT_SUBPROCESS_STARTS:
                self.c.add(
                    start.id, start.line, f"an event sub-process cannot start on a {kind} event", "start"
                )
        for node in scope.nodes.values():
            if node.subprocess is not None:
                self.scopes(node.subprocess, event_subprocess=node.triggered_by_event)

    def reachability(self, scope: ProcessSpec) -> None:
        """Nodes no token can reach: walk from start events, boundary events of reached activities
        and event sub-processes (which start on their own)."""
        seeds = [n.id for n in scope.nodes.values() if n.kind is NodeKind.START_EVENT or n.triggered_by_event]
        reached: set[str] = set()
        while seeds:
            current = seeds.pop()
            if current in reached or current not in scope.nodes:
                continue
            reached.add(current)
            node = scope.nodes[current]
            seeds.extend(scope.flows[f].target for f in node.outgoing if f in scope.flows)
            seeds.extend(b.id for b in scope.boundary_events(current))
        for node in scope.nodes.values():
            if node.id not in reached and node.incoming:
                self.c.add(
                    node.id,
                    node.line,
                    "is unreachable: no path leads to it from a start event",
                    "unreachable",
                )

    def node(self, scope: ProcessSpec, node: NodeSpec) -> None:
        self.connections(node)
        self.event(scope, node)
        if node.kind in _BRANCHING and len(node.outgoing) > 1:
            self.conditions(scope, node)
        if node.kind is NodeKind.EVENT_BASED_GATEWAY:
            self.event_gateway(scope, node)
        if node.kind is NodeKind.PARALLEL_GATEWAY and node.default_flow:
            self.c.add(node.id, node.line, "a parallel gateway cannot have a default flow", "default_flow")
        self.binding(node)
        self.properties(node)
        if node.multi_instance is not None:
            self.multi_instance(node, node.multi_instance)

    def connections(self, node: NodeSpec) -> None:
        kind = node.kind
        starts_alone = kind in (NodeKind.START_EVENT, NodeKind.BOUNDARY_EVENT) or node.triggered_by_event
        if not node.incoming and not starts_alone:
            self.c.add(
                node.id, node.line, "has no incoming sequence flow, so it can never run", "no_incoming"
            )
        if node.incoming and kind in (NodeKind.START_EVENT, NodeKind.BOUNDARY_EVENT):
            self.c.add(node.id, node.line, f"a {kind} cannot have an incoming sequence flow", "incoming")
        if node.triggered_by_event and (node.incoming or node.outgoing):
            self.c.add(
                node.id, node.line, "an event sub-process cannot have sequence flows", "event_subprocess"
            )
        ends_alone = kind is NodeKind.END_EVENT or node.triggered_by_event
        if not node.outgoing and not ends_alone:
            self.c.add(
                node.id,
                node.line,
                "has no outgoing sequence flow; end the path with an end event",
                "no_outgoing",
            )
        if node.outgoing and kind is NodeKind.END_EVENT:
            self.c.add(node.id, node.line, "an end event cannot have an outgoing sequence flow", "outgoing")

    def event(self, scope: ProcessSpec, node: NodeSpec) -> None:
        if node.event is None:
            return
        kind = node.event.kind
        in_event_subprocess = scope is not self.process and node.kind is NodeKind.START_EVENT
        allowed = _CATCH_KINDS[node.kind] | (_EVENT_SUBPROCESS_STARTS if in_event_subprocess else set())
        if kind not in SUPPORTED_EVENT_KINDS:
            if kind is EventKind.MULTIPLE:
                self.c.add(
                    node.id,
                    node.line,
                    "events with several event definitions are not supported",
                    "unsupported",
                )
        elif kind not in allowed:
            self.c.add(node.id, node.line, f"a {node.kind} cannot be a {kind} event", "event_kind")
        throws = node.kind in (NodeKind.END_EVENT, NodeKind.INTERMEDIATE_THROW_EVENT)
        if kind in _NEEDS_REF and not node.event.ref and not (throws and node.props.task_type):
            self.c.add(
                node.id, node.line, f"a {kind} event needs a {_NEEDS_REF[kind]} reference", "missing_ref"
            )
        if kind is EventKind.TIMER:
            self.timer(node, node.event.timer)

    def timer(self, node: NodeSpec, timer: TimerSpec | None) -> None:
        if timer is None or not timer.expression:
            self.c.add(node.id, node.line, "a timer needs a timeDate, timeDuration or timeCycle", "timer")
            return
        if timer.feel:
            self.feel(node.id, node.line, timer.expression, "timer")
            return
        parse = {
            TimerKind.DATE: parse_datetime,
            TimerKind.DURATION: IsoDuration.parse,
            TimerKind.CYCLE: IsoCycle.parse,
        }
        try:
            parse[timer.kind](timer.expression)
        except IsthmusError as exc:
            self.c.add(node.id, node.line, f"timer {timer.kind}: {exc.message}", "timer")

    def conditions(self, scope: ProcessSpec, node: NodeSpec) -> None:
        flows = [scope.flows[f] for f in node.outgoing if f in scope.flows]
        for flow in flows:
            if flow.id != node.default_flow and flow.condition is None:
                self.c.add(
                    flow.id,
                    flow.line,
                    f"leaves {node.kind} {node.id!r} without a condition and is not its default flow",
                    "missing_condition",
                )
        always = any(f.condition is not None and f.condition.strip() == "true" for f in flows)
        if node.default_flow is None and not always:
            self.c.add(
                node.id,
                node.line,
                "has no default flow: when no condition holds, the instance stops with an incident",
                "no_default",
                warning=True,
            )

    def event_gateway(self, scope: ProcessSpec, node: NodeSpec) -> None:
        if len(node.outgoing) < 2:
            self.c.add(
                node.id,
                node.line,
                "an event-based gateway needs at least two outgoing flows",
                "event_gateway",
            )
        for flow_id in node.outgoing:
            target = scope.nodes.get(scope.flows[flow_id].target) if flow_id in scope.flows else None
            if target is None:
                continue
            catches = target.kind is NodeKind.INTERMEDIATE_CATCH_EVENT and target.event is not None
            if not (
                catches and target.event is not None and target.event.kind in _EVENT_GATEWAY_TARGETS
            ) and (target.kind is not NodeKind.RECEIVE_TASK):
                self.c.add(
                    target.id,
                    target.line,
                    "after an event-based gateway only message, timer or signal catch events and receive tasks may follow",
                    "event_gateway",
                )

    def flow(self, scope: ProcessSpec, flow: FlowSpec) -> None:
        if flow.condition is None:
            return
        line = flow.condition_line or flow.line
        source = scope.nodes.get(flow.source)
        if source is not None and source.kind not in _BRANCHING:
            self.c.add(
                flow.id,
                line,
                f"a condition on a flow out of a {source.kind} is not supported; branch with an exclusive gateway",
                "condition_placement",
            )
        if source is not None and source.default_flow == flow.id:
            self.c.add(flow.id, line, "the default flow cannot have a condition", "default_flow")
        self.feel(flow.id, line, flow.condition, "condition")

    def binding(self, node: NodeSpec) -> None:
        props, kind = node.props, node.kind
        needs = {
            NodeKind.SERVICE_TASK: (
                props.task_type,
                "a binding: isthmus:flow, isthmus:handler or zeebe:taskDefinition type",
            ),
            NodeKind.BUSINESS_RULE_TASK: (
                props.decision_ref,
                "a decision: isthmus:decisionRef or zeebe:calledDecision",
            ),
            NodeKind.CALL_ACTIVITY: (
                props.called_element,
                "a called process: calledElement or zeebe:calledElement",
            ),
            NodeKind.SCRIPT_TASK: (props.script, "a FEEL script: <script> or zeebe:script"),
            NodeKind.RECEIVE_TASK: (props.message_ref, "a messageRef"),
        }
        if kind in needs and not needs[kind][0]:
            self.c.add(node.id, node.line, f"a {kind} needs {needs[kind][1]}", "binding")
        if (
            kind is NodeKind.SCRIPT_TASK
            and props.script_format
            and props.script_format.lower() not in ("feel", "")
        ):
            self.c.add(
                node.id,
                node.line,
                f"script format {props.script_format!r} is not supported; write FEEL",
                "script",
            )
        elif kind is NodeKind.SCRIPT_TASK and props.script:
            self.feel(node.id, node.line, props.script, "script")
        if props.retries is not None and props.retries < 0:
            self.c.add(node.id, node.line, "retries cannot be negative", "retries")

    def properties(self, node: NodeSpec) -> None:
        props = node.props
        if props.sla:
            try:
                IsoDuration.parse(props.sla)
            except IsthmusError as exc:
                self.c.add(node.id, node.line, f"isthmus:sla: {exc.message}", "sla")
        binding = props.called_version_binding
        if not (
            binding in ("latest", "deployment") or _is_version(binding) or binding.startswith("version_tag:")
        ):
            self.c.add(
                node.id,
                node.line,
                f"version binding {binding!r} is not latest, deployment or version:N",
                "version_binding",
            )
        for mapping in (*props.inputs, *props.outputs):
            self.feel(node.id, node.line, mapping.source, f"mapping to {mapping.target!r}")
        if props.correlation_key:
            self.feel(node.id, node.line, props.correlation_key, "correlation key")
        if props.escalate is not None and not _ESCALATE.fullmatch(props.escalate.strip()):
            self.c.add(
                node.id,
                node.line,
                f"isthmus:escalate {props.escalate!r} is not reassign|notify:[user:|group:]names (';' between rules)",
                "escalate",
            )

    def multi_instance(self, node: NodeSpec, mi: MultiInstanceSpec) -> None:
        line = mi.line or node.line
        if mi.cardinality is None and mi.collection is None:
            self.c.add(
                node.id, line, "multi-instance needs a cardinality or an input collection", "multi_instance"
            )
        for what, text in (
            ("cardinality", mi.cardinality),
            ("input collection", mi.collection),
            ("completion condition", mi.completion_condition),
            ("output element", mi.output_element),
        ):
            if text is not None:
                self.feel(node.id, line, text, what)

    def feel(self, element_id: str, line: int, text: str, what: str) -> None:
        for message, inner_line in _feel_findings(text):
            # FEEL counts lines inside the expression; a multi-line condition starts on ``line``.
            self.c.add(element_id, line + max(inner_line - 1, 0), f"{what}: {message}", "feel")


def _feel_findings(text: str) -> Iterator[tuple[str, int]]:
    if "${" in text or "#{" in text:
        yield f"JUEL expressions like {text!r} are not supported; write FEEL (Camunda 8 style)", 1
        return
    try:
        compile_expression(text)
    except FeelSyntaxError as exc:
        detail = exc.params.get("detail", exc.problem)
        yield f"FEEL syntax error at line {exc.line}, column {exc.column} of {text!r}: {detail}", exc.line
    except IsthmusError as exc:
        yield f"FEEL error in {text!r}: {exc.message}", 1


def feel_problems(text: str) -> Iterator[str]:
    """Why ``text`` is not a FEEL expression (nothing when it is); JUEL gets its own message."""
    for message, _line in _feel_findings(text):
        yield message


def _is_version(binding: str) -> bool:
    prefix, _, number = binding.partition(":")
    return prefix == "version" and number.isdigit() and int(number) > 0
