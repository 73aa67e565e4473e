"""BPMN 2.0 XML (the lxml tree) to the immutable specs of :mod:`._specs`.

Elements are matched by local name in the BPMN model namespace, whatever its prefix
(``bpmn:``, ``semantic:``, ``bpmn2:`` or none). Anything the reader does not know — data objects,
annotations, groups, vendor extensions — is skipped here and kept in the tree for export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from isthmus.models._properties import PropertyReader, feel_text
from isthmus.models._specs import (
    EventDefinition,
    EventKind,
    FlowSpec,
    NodeKind,
    NodeSpec,
    ProcessSpec,
    RefSpec,
    TimerKind,
    TimerSpec,
    UnsupportedElement,
    frozen_map,
)
from isthmus.models._xml import Element, elements, line_of, local_name, namespace_of, text_of

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"

_NODE_KINDS: Mapping[str, NodeKind] = {
    "startEvent": NodeKind.START_EVENT,
    "endEvent": NodeKind.END_EVENT,
    "task": NodeKind.TASK,
    "userTask": NodeKind.USER_TASK,
    "serviceTask": NodeKind.SERVICE_TASK,
    "scriptTask": NodeKind.SCRIPT_TASK,
    "businessRuleTask": NodeKind.BUSINESS_RULE_TASK,
    "sendTask": NodeKind.SEND_TASK,
    "receiveTask": NodeKind.RECEIVE_TASK,
    "manualTask": NodeKind.MANUAL_TASK,
    "exclusiveGateway": NodeKind.EXCLUSIVE_GATEWAY,
    "parallelGateway": NodeKind.PARALLEL_GATEWAY,
    "inclusiveGateway": NodeKind.INCLUSIVE_GATEWAY,
    "eventBasedGateway": NodeKind.EVENT_BASED_GATEWAY,
    "intermediateCatchEvent": NodeKind.INTERMEDIATE_CATCH_EVENT,
    "intermediateThrowEvent": NodeKind.INTERMEDIATE_THROW_EVENT,
    "boundaryEvent": NodeKind.BOUNDARY_EVENT,
    "subProcess": NodeKind.SUB_PROCESS,
    "callActivity": NodeKind.CALL_ACTIVITY,
}

#: Flow elements Isthmus reads but does not execute: an executable process holding one is refused
#: at deployment, naming the element's id (never silently mis-run).
UNSUPPORTED_ELEMENTS = frozenset(
    {
        "complexGateway",
        "transaction",
        "adHocSubProcess",
        "implicitThrowEvent",
        "callChoreography",
        "choreographyTask",
        "subChoreography",
        "standardLoopCharacteristics",
        "compensateEventDefinition",
        "conditionalEventDefinition",
        "linkEventDefinition",
        "cancelEventDefinition",
    }
)

_EVENT_KINDS: Mapping[str, EventKind] = {
    "messageEventDefinition": EventKind.MESSAGE,
    "timerEventDefinition": EventKind.TIMER,
    "signalEventDefinition": EventKind.SIGNAL,
    "errorEventDefinition": EventKind.ERROR,
    "escalationEventDefinition": EventKind.ESCALATION,
    "terminateEventDefinition": EventKind.TERMINATE,
    "conditionalEventDefinition": EventKind.CONDITIONAL,
    "linkEventDefinition": EventKind.LINK,
    "compensateEventDefinition": EventKind.COMPENSATE,
    "cancelEventDefinition": EventKind.CANCEL,
}
_REF_ATTRIBUTE = {
    EventKind.MESSAGE: "messageRef",
    EventKind.SIGNAL: "signalRef",
    EventKind.ERROR: "errorRef",
    EventKind.ESCALATION: "escalationRef",
}
_TIMER_KINDS = {"timeDate": TimerKind.DATE, "timeDuration": TimerKind.DURATION, "timeCycle": TimerKind.CYCLE}


@dataclass(frozen=True, slots=True)
class Definitions:
    """Everything the reader takes from one ``<definitions>``."""

    id: str
    name: str
    processes: tuple[ProcessSpec, ...]
    messages: Mapping[str, RefSpec]
    signals: Mapping[str, RefSpec]
    errors: Mapping[str, RefSpec]
    escalations: Mapping[str, RefSpec]
    participants: Mapping[str, str] = field(default_factory=frozen_map)
    problems: tuple[tuple[int, str], ...] = ()


def read_definitions(root: Element) -> Definitions:
    """Read a ``<definitions>`` element (the caller checked its name and namespace)."""
    refs = {name: _refs(root, name) for name in ("message", "signal", "error", "escalation")}
    event_definitions = {
        e.get("id") or "": e for e in elements(root) if local_name(e) in _EVENT_KINDS and e.get("id")
    }
    correlation = {key: ref.correlation_key for key, ref in refs["message"].items()}
    participants = _participants(root)
    reader = _ScopeReader(correlation, event_definitions)
    processes = tuple(
        reader.process(p, participants.get(p.get("id") or "")) for p in elements(root, "process")
    )
    return Definitions(
        id=root.get("id") or "",
        name=root.get("name") or "",
        processes=processes,
        messages=frozen_map(refs["message"]),
        signals=frozen_map(refs["signal"]),
        errors=frozen_map(refs["error"]),
        escalations=frozen_map(refs["escalation"]),
        participants=frozen_map(participants),
        problems=tuple(reader.properties.problems),
    )


def _refs(root: Element, name: str) -> dict[str, RefSpec]:
    found: dict[str, RefSpec] = {}
    for element in elements(root, name):
        ref_id = element.get("id")
        if not ref_id:
            continue
        code = element.get("errorCode") or element.get("escalationCode")
        subscription = next(
            (e for e in _extension_children(element) if local_name(e) == "subscription"), None
        )
        key = feel_text(subscription.get("correlationKey")) if subscription is not None else None
        found[ref_id] = RefSpec(ref_id, element.get("name") or "", code, key, line_of(element))
    return found


def _extension_children(element: Element) -> list[Element]:
    return [child for ext in elements(element, "extensionElements") for child in elements(ext)]


def _participants(root: Element) -> dict[str, str]:
    """process id → participant name, from the collaborations (pools)."""
    found: dict[str, str] = {}
    for collaboration in elements(root, "collaboration"):
        for participant in elements(collaboration, "participant"):
            process = participant.get("processRef")
            if process:
                found[process] = participant.get("name") or ""
    return found


def _lanes(process: Element) -> dict[str, str]:
    """node id → name of its innermost lane (nested lane sets are walked depth first)."""
    found: dict[str, str] = {}

    def walk(lane_set: Element) -> None:
        for lane in elements(lane_set, "lane"):
            for ref in elements(lane, "flowNodeRef"):
                if ref.text and ref.text.strip():
                    found[ref.text.strip()] = lane.get("name") or lane.get("id") or ""
            for child in elements(lane, "childLaneSet"):
                walk(child)

    for lane_set in elements(process, "laneSet"):
        walk(lane_set)
    return found


class _ScopeReader:
    def __init__(self, correlation: dict[str, str | None], event_definitions: dict[str, Element]) -> None:
        self.properties = PropertyReader()
        self._correlation = correlation
        self._event_definitions = event_definitions
        self._lanes: dict[str, str] = {}

    def process(self, element: Element, participant: str | None) -> ProcessSpec:
        executable = (element.get("isExecutable") or "").lower() == "true"
        name = element.get("name") or participant or ""
        self._lanes = _lanes(element)
        return self.scope(element, element.get("id") or "", name, executable)

    def scope(
        self,
        element: Element,
        scope_id: str,
        name: str,
        executable: bool,
        default_lane: str | None = None,
    ) -> ProcessSpec:
        flows = {f.id: f for f in (self.flow(e) for e in elements(element, "sequenceFlow"))}
        incoming: dict[str, list[str]] = {}
        outgoing: dict[str, list[str]] = {}
        for flow in flows.values():
            outgoing.setdefault(flow.source, []).append(flow.id)
            incoming.setdefault(flow.target, []).append(flow.id)
        nodes: dict[str, NodeSpec] = {}
        scope_lanes: dict[str, str] = {}
        unsupported: list[UnsupportedElement] = []
        for child in elements(element):
            tag = local_name(child)
            if namespace_of(child) != BPMN_NS:
                continue
            if tag in UNSUPPORTED_ELEMENTS:
                unsupported.append(UnsupportedElement(child.get("id") or "", tag, line_of(child)))
                continue
            kind = _NODE_KINDS.get(tag)
            if kind is None:
                continue
            node_id = child.get("id") or ""
            lane = self._lanes.get(node_id, default_lane)
            node = self.node(
                child, kind, executable, lane, incoming.get(node_id, []), outgoing.get(node_id, [])
            )
            nodes[node_id] = node
            if lane is not None:
                scope_lanes[node_id] = lane
            unsupported.extend(self._unsupported_inside(child, node_id))
        return ProcessSpec(
            id=scope_id,
            name=name,
            is_executable=executable,
            nodes=frozen_map(nodes),
            flows=frozen_map(flows),
            lanes=frozen_map(scope_lanes),
            unsupported=tuple(unsupported),
            line=line_of(element),
        )

    def _unsupported_inside(self, node: Element, node_id: str) -> list[UnsupportedElement]:
        """Unsupported event definitions and loop kinds directly inside a node."""
        return [
            UnsupportedElement(node_id, local_name(c), line_of(c))
            for c in elements(node)
            if local_name(c) in UNSUPPORTED_ELEMENTS and namespace_of(c) == BPMN_NS
        ]

    def flow(self, element: Element) -> FlowSpec:
        condition = next(elements(element, "conditionExpression"), None)
        text = text_of(condition) if condition is not None else None
        return FlowSpec(
            id=element.get("id") or "",
            name=element.get("name") or "",
            source=element.get("sourceRef") or "",
            target=element.get("targetRef") or "",
            condition=feel_text(text) or None if text is not None else None,
            line=line_of(element),
            condition_line=line_of(condition) if condition is not None else 0,
        )

    def node(
        self,
        element: Element,
        kind: NodeKind,
        executable: bool,
        lane: str | None,
        incoming: list[str],
        outgoing: list[str],
    ) -> NodeSpec:
        node_id = element.get("id") or ""
        body = None
        if kind is NodeKind.SUB_PROCESS:
            body = self.scope(element, node_id, element.get("name") or "", executable, lane)
        cancel = (
            element.get("cancelActivity")
            if kind is NodeKind.BOUNDARY_EVENT
            else element.get("isInterrupting")
        )
        return NodeSpec(
            id=node_id,
            name=element.get("name") or "",
            kind=kind,
            incoming=tuple(incoming),
            outgoing=tuple(outgoing),
            event=self.event(element) if kind.is_event else None,
            attached_to=element.get("attachedToRef"),
            cancel_activity=(cancel or "true").lower() != "false",
            default_flow=element.get("default"),
            props=self.properties.read(element, lane=lane, messages=self._correlation),
            multi_instance=self.properties.multi_instance(element),
            subprocess=body,
            triggered_by_event=(element.get("triggeredByEvent") or "").lower() == "true",
            line=line_of(element),
            element=local_name(element),
        )

    def event(self, element: Element) -> EventDefinition:
        definitions = [e for e in elements(element) if local_name(e) in _EVENT_KINDS]
        definitions += [
            self._event_definitions[ref.text.strip()]
            for ref in elements(element, "eventDefinitionRef")
            if ref.text and ref.text.strip() in self._event_definitions
        ]
        if not definitions:
            return EventDefinition(EventKind.NONE)
        if len(definitions) > 1:
            return EventDefinition(EventKind.MULTIPLE)
        definition = definitions[0]
        kind = _EVENT_KINDS[local_name(definition)]
        attribute = _REF_ATTRIBUTE.get(kind)
        return EventDefinition(
            kind=kind,
            ref=definition.get(attribute) if attribute else None,
            timer=_timer(definition) if kind is EventKind.TIMER else None,
            id=definition.get("id"),
        )


def _timer(definition: Element) -> TimerSpec | None:
    for child in elements(definition):
        kind = _TIMER_KINDS.get(local_name(child))
        if kind is not None:
            text = text_of(child).strip()
            return TimerSpec(kind, feel_text(text) or "", feel=text.startswith("="))
    return None
