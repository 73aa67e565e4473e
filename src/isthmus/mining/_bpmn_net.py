"""A BPMN 2.0 file as a Petri net, converted exactly as pm4py's ``convert_to_petri_net`` does, so
token replay on it gives pm4py's numbers.

Only the subset process mining needs is read (tasks of every kind, start and end events, exclusive,
parallel and inclusive gateways, sequence flows), with a hardened parser: no entities, no network,
no DTD. The BPMN engine's full parser lives in ``isthmus.models``; this module does not depend on it.

The conversion (pm4py ``objects/conversion/bpmn/variants/to_petri_net.py``): every sequence flow is
a place named by its id; every node gets an entry place ``ent_<id>``, an exit place ``exi_<id>`` and
a transition named by its id (labelled with the task name, silent for events and gateways); a
parallel/inclusive gateway with several outgoing (incoming) flows fans out (in) through one silent
transition; a start event is fed from ``source``, an end event feeds ``sink``; a flow between two
places gets silent ``sfl_``/``tfl_`` transitions. Then silent transitions in sequence are merged
(pm4py's ``apply_simple_reduction``) and isolated places dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from isthmus.errors import InvalidInput, Location, SyntaxProblem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
TASKS = {
    "task",
    "userTask",
    "serviceTask",
    "manualTask",
    "scriptTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
}
EVENTS = {"startEvent", "endEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway"}


@dataclass(eq=False)
class Place:
    name: str
    inputs: list[Transition] = field(default_factory=list)
    outputs: list[Transition] = field(default_factory=list)


@dataclass(eq=False)
class Transition:
    name: str
    label: str | None
    inputs: list[Place] = field(default_factory=list)
    outputs: list[Place] = field(default_factory=list)


@dataclass
class PetriNet:
    """An accepting Petri net: one token in ``source`` to start, one in ``sink`` to finish."""

    places: dict[str, Place] = field(default_factory=dict)
    transitions: dict[str, Transition] = field(default_factory=dict)
    initial: dict[str, int] = field(default_factory=dict)
    final: dict[str, int] = field(default_factory=dict)

    def place(self, name: str) -> Place:
        return self.places.setdefault(name, Place(name))

    def transition(self, name: str, label: str | None) -> Transition:
        t = Transition(name, label)
        self.transitions[name] = t
        return t

    def remove_transition(self, t: Transition) -> None:
        for p in t.inputs:
            p.outputs.remove(t)
        for p in t.outputs:
            p.inputs.remove(t)
        del self.transitions[t.name]

    def remove_place(self, p: Place) -> None:
        for t in p.inputs:
            t.outputs.remove(p)
        for t in p.outputs:
            t.inputs.remove(p)
        del self.places[p.name]

    @property
    def labels(self) -> set[str]:
        return {t.label for t in self.transitions.values() if t.label is not None}


def arc(source: Place | Transition, target: Place | Transition) -> None:
    """Join a place and a transition (either way round)."""
    if isinstance(source, Place) and isinstance(target, Transition):
        source.outputs.append(target)
        target.inputs.append(source)
        return
    if isinstance(source, Transition) and isinstance(target, Place):
        source.outputs.append(target)
        target.inputs.append(source)
        return
    raise TypeError("an arc joins a place and a transition")  # pragma: no cover - a programming error


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    source: str
    target: str


def read_bpmn(data: bytes, name: str = "model.bpmn") -> tuple[list[Node], list[Flow]]:
    """The nodes and sequence flows of every process in a BPMN 2.0 document."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (None, None)
        raise SyntaxProblem(
            "not well-formed BPMN XML: {reason}",
            location=Location(file=name, line=line, column=col),
            reason=exc.msg,
        ) from None
    nodes: list[Node] = []
    flows: list[Flow] = []
    for element in root.iter(f"{{{BPMN_NS}}}*"):
        kind = etree.QName(element).localname
        ident = element.get("id", "")
        if kind == "sequenceFlow":
            flows.append(Flow(ident, element.get("sourceRef", ""), element.get("targetRef", "")))
        elif kind in TASKS or kind in EVENTS or kind in GATEWAYS:
            nodes.append(Node(ident, kind, (element.get("name") or "").strip()))
    if not nodes:
        raise InvalidInput(
            "no BPMN process elements (tasks, events, gateways) found", location=Location(file=name)
        )
    return nodes, flows


ISTHMUS_NS = "https://isthmus.dev/schema/bpmn"


def slas_from_bpmn(data: bytes, name: str = "model.bpmn") -> dict[str, str]:
    """The ``isthmus:sla`` (ISO 8601 duration) of every named task, by task name — the SLAs a
    to-be model gives its nodes (the guide: "every node gets an owner and an SLA")."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (None, None)
        raise SyntaxProblem(
            "not well-formed BPMN XML: {reason}",
            location=Location(file=name, line=line, column=col),
            reason=exc.msg,
        ) from None
    found: dict[str, str] = {}
    for element in root.iter(f"{{{BPMN_NS}}}*"):
        sla = element.get(f"{{{ISTHMUS_NS}}}sla")
        label = (element.get("name") or "").strip()
        if sla and label and etree.QName(element).localname in TASKS:
            found[label] = sla.strip()
    return found


def to_petri_net(nodes: list[Node], flows: list[Flow]) -> PetriNet:
    """pm4py's BPMN → Petri net conversion (see the module docstring)."""
    net = PetriNet()
    net.place("source")
    net.place("sink")
    net.initial, net.final = {"source": 1}, {"sink": 1}
    by_id = {n.id: n for n in nodes}
    outgoing: dict[str, int] = {}
    incoming: dict[str, int] = {}
    flow_place: dict[str, Place] = {}
    for f in flows:
        flow_place[f.id] = net.place(f.id)
        outgoing[f.source] = outgoing.get(f.source, 0) + 1
        incoming[f.target] = incoming.get(f.target, 0) + 1
    entering: dict[str, Place | Transition] = {}
    exiting: dict[str, Place | Transition] = {}
    for node in nodes:
        entering[node.id], exiting[node.id] = _node(
            net, node, outgoing.get(node.id, 0), incoming.get(node.id, 0)
        )
    _connect(net, flows, by_id, entering, exiting, flow_place)
    _reduce(net)
    for p in list(net.places.values()):
        if not p.inputs and not p.outputs and p.name not in net.initial and p.name not in net.final:
            net.remove_place(p)
    return net


def _node(
    net: PetriNet, node: Node, outgoing: int, incoming: int
) -> tuple[Place | Transition, Place | Transition]:
    """The entry place, transition and exit place of one node; returns where flows enter and leave."""
    entry, exit_ = net.place(f"ent_{node.id}"), net.place(f"exi_{node.id}")
    label = (node.name or None) if node.kind in TASKS else None
    t = net.transition(node.id, label)
    arc(entry, t)
    arc(t, exit_)
    enter: Place | Transition = entry
    leave: Place | Transition = exit_
    if node.kind in ("parallelGateway", "inclusiveGateway"):
        if outgoing > 1:
            leave = net.transition(f"split_{node.id}", None)
            arc(exit_, leave)
        if incoming > 1:
            enter = net.transition(f"join_{node.id}", None)
            arc(enter, entry)
    if node.kind == "startEvent":
        start = net.transition(f"start_{node.id}", None)
        arc(net.places["source"], start)
        arc(start, entry)
    elif node.kind == "endEvent":
        end = net.transition(f"end_{node.id}", None)
        arc(exit_, end)
        arc(end, net.places["sink"])
    return enter, leave


def _connect(
    net: PetriNet,
    flows: list[Flow],
    by_id: dict[str, Node],
    entering: dict[str, Place | Transition],
    exiting: dict[str, Place | Transition],
    flow_place: dict[str, Place],
) -> None:
    for f in flows:
        if f.source not in exiting or f.target not in entering or f.source not in by_id:
            continue
        src, dst = exiting[f.source], entering[f.target]
        if isinstance(src, Place):
            inv = net.transition(f"sfl_{f.id}", None)
            arc(src, inv)
            src = inv
        if isinstance(dst, Place):
            inv = net.transition(f"tfl_{f.id}", None)
            arc(inv, dst)
            dst = inv
        arc(src, flow_place[f.id])
        arc(flow_place[f.id], dst)


def _reduce(net: PetriNet) -> None:
    """pm4py's ``apply_simple_reduction``: merge silent transitions into their only neighbour."""
    changed = True
    while changed:
        before = (len(net.transitions), len(net.places))
        while _merge_up(net):
            pass
        while _merge_down(net):
            pass
        changed = len(net.transitions) < before[0] or len(net.places) < before[1]


def _merge_up(net: PetriNet) -> bool:
    for t in list(net.transitions.values()):
        if t.label is None and len(t.inputs) == 1:
            p = t.inputs[0]
            if len(p.inputs) == 1 and p.outputs == [t]:
                upstream, targets = p.inputs[0], list(t.outputs)
                net.remove_transition(t)
                net.remove_place(p)
                for q in targets:
                    arc(upstream, q)
                return True
    return False


def _merge_down(net: PetriNet) -> bool:
    for t in list(net.transitions.values()):
        if t.label is None and len(t.outputs) == 1:
            p = t.outputs[0]
            if len(p.outputs) == 1 and p.inputs == [t]:
                downstream, sources = p.outputs[0], list(t.inputs)
                net.remove_transition(t)
                net.remove_place(p)
                for q in sources:
                    arc(q, downstream)
                return True
    return False


def load_net(path: Path) -> PetriNet:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "cannot read the model: {reason}",
            location=Location(file=str(path)),
            reason=exc.strerror or str(exc),
        ) from None
    return to_petri_net(*read_bpmn(data, path.name))
