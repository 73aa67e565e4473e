"""A deployed process, prepared once for the interpreter: node index, boundary map, reachability for
converging inclusive gateways, and a cache of compiled FEEL.

A :class:`Definition` is immutable after construction and shared by every instance of one
(key, version), so nothing here is paid per instance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from isthmus.engine._effects import HistoryEvent
from isthmus.feel import Expression, compile_expression, from_feel, to_feel
from isthmus.models import EventKind, FlowSpec, NodeKind, NodeSpec, ProcessSpec, RefSpec

_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class EngineModelError(ValueError):
    """The model cannot be run as drawn (e.g. no start event, a condition that does not compile)."""


@lru_cache(maxsize=1024)  # timers re-read the same few texts at every activation
def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration; years and months count as 365 and 30 days (timers only need that)."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        raise EngineModelError(f"not an ISO 8601 duration: {text!r}")
    part = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    days = part["y"] * 365 + part["mo"] * 30 + part["w"] * 7 + part["d"]
    return timedelta(days=days, hours=part["h"], minutes=part["mi"], seconds=part["s"])


def feel_duration(value: Any) -> timedelta | None:
    """A FEEL result used as a duration: a FEEL days-time duration or an ISO text."""
    if isinstance(value, timedelta):
        return value
    json = from_feel(value)
    if isinstance(json, str) and json.startswith(("P", "-P")):
        return parse_duration(json.lstrip("-"))
    return None


def parse_instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise EngineModelError(f"a timer date needs a time zone: {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class Cycle:
    """``R[n]/[start/]duration``: ``repeat`` None means forever."""

    repeat: int | None
    every: timedelta


def parse_cycle(text: str) -> Cycle:
    parts = text.strip().split("/")
    if not parts[0].startswith("R"):
        return Cycle(None, parse_duration(parts[0]))
    count = parts[0][1:]
    return Cycle(int(count) if count else None, parse_duration(parts[-1]))


@dataclass(frozen=True, slots=True)
class Step:
    """What the interpreter looks up about a node at every move, resolved once per definition.

    ``started``/``completed`` are the node's history lines (shared: effects are immutable);
    ``uncontrolled`` is the node's outgoing flows when none is conditional or default (a token
    simply takes them all), else None; ``single`` is (flow, target) when that is exactly one flow; ``kind`` is the node kind's text (cheaper to hash than the
    enum member); ``action`` is what the interpreter runs for the node: the kind's text, or
    ``pass`` when all the node does is let the token leave (a none start or end event, a plain
    task, a gateway that neither chooses nor joins).
    """

    node: NodeSpec
    kind: str
    action: str
    gateway: bool
    multi: bool
    timers: bool
    uncontrolled: tuple[str, ...] | None
    single: tuple[str, str] | None
    started: HistoryEvent
    completed: HistoryEvent


PASS = "pass"
_NO_EVENT = EventKind.NONE  # a global: reading an enum member off its class is a slow lookup
_LEAVING = (NodeKind.START_EVENT, NodeKind.TASK, NodeKind.MANUAL_TASK, NodeKind.BOUNDARY_EVENT)


def _only_leaves(node: NodeSpec, uncontrolled: tuple[str, ...] | None) -> bool:
    """Whether the interpreter's handler for ``node`` comes down to ``leave(token, node)``."""
    kind = node.kind
    if kind in _LEAVING:
        return True
    if kind is NodeKind.END_EVENT:
        return node.event is None or node.event.kind in (EventKind.NONE, EventKind.MESSAGE)
    if kind is NodeKind.EXCLUSIVE_GATEWAY:
        return len(node.outgoing) <= 1
    if kind is NodeKind.PARALLEL_GATEWAY:  # a fork: leave() takes all outgoing flows, as it does
        return len(node.incoming) <= 1 and uncontrolled == node.outgoing
    return False


@dataclass(slots=True)
class Definition:
    """What the interpreter needs of one deployed process version."""

    key: str
    version: int
    process: ProcessSpec
    messages: Mapping[str, RefSpec] = field(default_factory=dict)
    signals: Mapping[str, RefSpec] = field(default_factory=dict)
    errors: Mapping[str, RefSpec] = field(default_factory=dict)
    escalations: Mapping[str, RefSpec] = field(default_factory=dict)
    nodes: dict[str, NodeSpec] = field(init=False)
    scope_of: dict[str, ProcessSpec] = field(init=False)
    flows: dict[str, FlowSpec] = field(init=False)
    boundaries: dict[str, tuple[NodeSpec, ...]] = field(init=False)
    event_subprocesses: dict[str, tuple[NodeSpec, ...]] = field(init=False)
    #: flow id -> target node id
    targets: dict[str, str] = field(init=False)
    steps: dict[str, Step] = field(init=False)
    #: whether any converging inclusive gateway exists (else the walk never looks for one)
    inclusive_joins: bool = field(init=False)
    _reach: dict[str, frozenset[str]] = field(init=False)
    _starts: dict[tuple[str, EventKind], tuple[ProcessSpec, NodeSpec]] = field(init=False)
    _start: NodeSpec | None = field(init=False)
    _feel: dict[str, Expression] = field(init=False)

    def __post_init__(self) -> None:
        self.nodes, self.scope_of, self.flows = {}, {}, {}
        boundaries: dict[str, list[NodeSpec]] = {}
        events: dict[str, list[NodeSpec]] = {}
        for scope, node in self.process.walk():
            self.nodes[node.id] = node
            self.scope_of[node.id] = scope
            if node.attached_to is not None:
                boundaries.setdefault(node.attached_to, []).append(node)
            if node.kind is NodeKind.SUB_PROCESS and node.triggered_by_event:
                events.setdefault(scope.id, []).append(node)
        for _, flow in self.process.walk_flows():
            self.flows[flow.id] = flow
        self.boundaries = {k: tuple(v) for k, v in boundaries.items()}
        self.event_subprocesses = {k: tuple(v) for k, v in events.items()}
        self.targets = {flow.id: flow.target for flow in self.flows.values()}
        self.steps = {node.id: self._step(node) for node in self.nodes.values()}
        self.inclusive_joins = any(
            n.kind is NodeKind.INCLUSIVE_GATEWAY and len(n.incoming) > 1 for n in self.nodes.values()
        )
        self._reach = {}
        self._starts = {}
        self._start = None
        self._feel = {}

    def _step(self, node: NodeSpec) -> Step:
        conditional = node.default_flow is not None or any(
            self.flows[f].condition is not None for f in node.outgoing if f in self.flows
        )
        timers = any(
            b.event is not None and b.event.kind is EventKind.TIMER for b in self.boundaries.get(node.id, ())
        )
        uncontrolled = None if conditional else node.outgoing
        single = (
            (node.outgoing[0], self.flows[node.outgoing[0]].target)
            if uncontrolled is not None and len(uncontrolled) == 1 and uncontrolled[0] in self.flows
            else None
        )
        return Step(
            node,
            node.kind.value,
            PASS if _only_leaves(node, uncontrolled) else node.kind.value,
            node.kind.is_gateway,
            node.multi_instance is not None,
            timers,
            uncontrolled,
            single,
            HistoryEvent(node.id, node.label, "start", None),
            HistoryEvent(node.id, node.label, "complete", None),
        )

    def step(self, node_id: str) -> Step:
        try:
            return self.steps[node_id]
        except KeyError:
            raise EngineModelError(f"{self.key} v{self.version} has no node {node_id!r}") from None

    def node(self, node_id: str) -> NodeSpec:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise EngineModelError(f"{self.key} v{self.version} has no node {node_id!r}") from None

    def start_event(self, scope: ProcessSpec, event: EventKind = EventKind.NONE) -> NodeSpec:
        if scope is self.process and event is _NO_EVENT and self._start is not None:
            return self._start  # every instance's start: no enum hashing
        key = (scope.id, event)
        found = self._starts.get(key)
        if found is None or found[0] is not scope:
            found = self._starts[key] = (scope, self._start_event(scope, event))
            if scope is self.process and event is _NO_EVENT:
                self._start = found[1]
        return found[1]

    def _start_event(self, scope: ProcessSpec, event: EventKind) -> NodeSpec:
        for node in scope.start_events():
            kind = node.event.kind if node.event else EventKind.NONE
            if kind is event or (event is EventKind.NONE and kind is EventKind.TIMER):
                return node
        starts = scope.start_events()
        if len(starts) == 1 and event is EventKind.NONE:
            return starts[0]
        raise EngineModelError(f"{scope.id} has no {event.value} start event")

    def reaches(self, source: str, target: str) -> bool:
        """Whether a token at ``source`` can still arrive at ``target`` along sequence flows."""
        found = self._reach.get(source)
        if found is None:
            seen: set[str] = set()
            stack = [source]
            while stack:
                node = self.nodes[stack.pop()]
                for flow_id in node.outgoing:
                    nxt = self.flows[flow_id].target
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
                for boundary in self.boundaries.get(node.id, ()):
                    if boundary.id not in seen:
                        seen.add(boundary.id)
                        stack.append(boundary.id)
            found = self._reach[source] = frozenset(seen)
        return target in found

    def ref_name(self, refs: Mapping[str, RefSpec], ref: str | None) -> str | None:
        """The name (or code) a ``messageRef``/``errorRef`` … stands for; the ref itself if unknown."""
        if ref is None:
            return None
        spec = refs.get(ref)
        if spec is None:
            return ref
        return spec.code or spec.name or spec.id

    def expression(self, text: str) -> Expression:
        compiled = self._feel.get(text)
        if compiled is None:
            try:
                compiled = compile_expression(text)
            except Exception as error:
                raise EngineModelError(f"FEEL {text!r} does not compile: {error}") from error
            self._feel[text] = compiled
        return compiled

    def evaluate(self, text: str, context: Mapping[str, Any]) -> Any:
        """Evaluate FEEL ``text`` on JSON ``context``; the result as JSON data."""
        # nobody reads evaluation warnings here: without a list, simple expressions take FEEL's
        # fast path (no evaluation context set up per call)
        return from_feel(self._evaluate(text, context))

    def is_true(self, text: str, context: Mapping[str, Any]) -> bool:
        # _evaluate(), inline: every gateway condition of every instance comes here
        expression = self._feel.get(text) or self.expression(text)
        scope = {name: to_feel(context[name]) for name in expression.names if name in context}
        return expression.evaluate(scope) is True  # from_feel keeps True as it is

    def _evaluate(self, text: str, context: Mapping[str, Any]) -> Any:
        # only the variables the text names are converted to FEEL values (a text cannot read a
        # name it does not mention), not the whole instance for one gateway condition
        expression = self.expression(text)
        scope = {name: to_feel(context[name]) for name in expression.names if name in context}
        return expression.evaluate(scope)


def feel_context(variables: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_feel(v) for k, v in variables.items()}


def as_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise EngineModelError(f"a multi-instance cardinality must be a number, got {value!r}")
    return int(value)


def labels(nodes: Iterable[NodeSpec]) -> list[str]:
    return [n.id for n in nodes]


def definition_of(key: str, version: int, model: Any, process_id: str | None = None) -> Definition:
    """The :class:`Definition` of process ``process_id`` (default: the only executable one, or
    the one whose id is ``key``) of a parsed :class:`~isthmus.models.BpmnModel`."""
    processes = model.executable_processes or model.processes
    if process_id is None:
        chosen = next((p for p in processes if p.id == key), processes[0] if processes else None)
    else:
        chosen = model.process(process_id)
    if chosen is None:
        raise EngineModelError(f"{key} has no executable process")
    return Definition(
        key,
        version,
        chosen,
        messages=model.messages,
        signals=model.signals,
        errors=model.errors,
        escalations=model.escalations,
    )
