"""Events and scopes: end events, catch and throw, boundary events, timers, messages and signals,
embedded and event subprocesses, call activities, converging inclusive gateways and cancellation.

Free functions over an :class:`~isthmus.engine._interpreter.Interpreter` (``walk``), split out of it
to keep each module to one concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from isthmus.engine._definition import parse_cycle, parse_duration, parse_instant
from isthmus.engine._effects import CallCancelled, CallStarted, Ended, EngineIncident, TaskClosed, TimerSet
from isthmus.engine._state import ROOT_SCOPE, Scope, Token, Wait
from isthmus.models import EventDefinition, EventKind, NodeKind, NodeSpec, RefSpec, TimerKind

if TYPE_CHECKING:
    from isthmus.engine._interpreter import Interpreter

# read at every activity with a boundary timer: globals, not enum members looked up on their class
_DATE, _DURATION, _TIMER = TimerKind.DATE, TimerKind.DURATION, EventKind.TIMER
WAITING = (Wait.TASK, Wait.SERVICE, Wait.TIMER, Wait.MESSAGE, Wait.SIGNAL, Wait.SCOPE, Wait.CALL)


# --- timers ---------------------------------------------------------------------------------------


def timer_due(
    walk: Interpreter, token: Token, node: NodeSpec, fired: int = 0, base: datetime | None = None
) -> datetime | None:
    """When the timer of ``node`` fires next; None when a cycle has run out."""
    spec = node.event.timer if node.event else None
    if spec is None:
        raise EngineIncident("timer event {node} has no timer definition", node=node.id)
    text = spec.expression
    if spec.feel:
        value = walk.d.evaluate(text, walk.context(token))
        if not isinstance(value, str):
            raise EngineIncident(
                "timer {node}: {text!r} gave {value!r}", node=node.id, text=text, value=value
            )
        text = value
    kind = spec.kind
    if kind is _DURATION:
        return walk.now + parse_duration(text)
    if kind is _DATE:
        return parse_instant(text)
    cycle = parse_cycle(text)
    if cycle.repeat is not None and fired >= cycle.repeat:
        return None
    # a cycle counts from the previous due time, not from when a worker got round to it
    return (base or walk.now) + cycle.every


def arm_timer(
    walk: Interpreter,
    token: Token,
    node: NodeSpec,
    activation: int,
    fired: int = 0,
    base: datetime | None = None,
) -> None:
    due = timer_due(walk, token, node, fired, base)
    if due is not None:
        walk.effects.append(TimerSet(token.id, node.id, activation, due, fired))


def _is(event: EventDefinition | None, kind: EventKind) -> bool:
    return event is not None and event.kind is kind


def arm_boundaries(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    for boundary in walk.d.boundaries.get(node.id, ()):
        if _is(boundary.event, _TIMER):
            arm_timer(walk, token, boundary, token.activation)


def arm_event_subprocesses(
    walk: Interpreter, spec_id: str, scope_id: int, owner: int, activation: int
) -> None:
    """Timer start events of the event subprocesses of a scope that just began."""
    del scope_id  # the timer names the scope through its owner token
    for esp in walk.d.event_subprocesses.get(spec_id, ()):
        assert esp.subprocess is not None
        for start in esp.subprocess.start_events():
            if _is(start.event, EventKind.TIMER):
                arm_timer(walk, Token(owner, start.id), start, activation)


def fire_timer(
    walk: Interpreter, token_id: int, node_id: str, activation: int, fired: int, due: datetime | None = None
) -> bool:
    node = walk.d.nodes.get(node_id)
    if node is None or walk.state.status.value != "active":
        return False
    if node.kind is NodeKind.START_EVENT:
        return _fire_start_timer(walk, token_id, node, activation, fired, due)
    token = walk.state.token(token_id)
    if token is None or token.activation != activation:
        return False
    if node.kind is NodeKind.BOUNDARY_EVENT:
        if token.node != node.attached_to or token.wait not in WAITING:
            return False
        if (
            not node.cancel_activity
            and node.event
            and node.event.timer
            and node.event.timer.kind is TimerKind.CYCLE
        ):
            arm_timer(walk, token, node, activation, fired + 1, due)
        fire_boundary(walk, token, node, {})
        return True
    if token.wait is Wait.TIMER and token.node == node_id:
        walk.leave(token, node)
        return True
    if token.wait is Wait.EVENTS and node_id in _targets(walk, token):
        take_event(walk, token, node, {})
        return True
    return False


def _fire_start_timer(
    walk: Interpreter, token_id: int, start: NodeSpec, activation: int, fired: int, due: datetime | None
) -> bool:
    if token_id == 0:
        scope_id = ROOT_SCOPE
    else:
        owner = walk.state.token(token_id)
        if (
            owner is None
            or owner.wait is not Wait.SCOPE
            or owner.activation != activation
            or owner.child is None
        ):
            return False
        scope_id = owner.child
    esp = _esp_of(walk, start)
    if esp is None:
        return False
    timer = start.event.timer if start.event else None
    if not start.cancel_activity and timer is not None and timer.kind is TimerKind.CYCLE:
        arm_timer(walk, Token(token_id, start.id), start, activation, fired + 1, due)
    trigger_event_subprocess(walk, esp, start, scope_id, {})
    return True


def _esp_of(walk: Interpreter, start: NodeSpec) -> NodeSpec | None:
    body = walk.d.scope_of[start.id]
    for group in walk.d.event_subprocesses.values():
        for esp in group:
            if esp.subprocess is body:
                return esp
    return None


def _targets(walk: Interpreter, token: Token) -> list[str]:
    return [walk.d.flows[f].target for f in walk.d.node(token.node).outgoing]


# --- boundaries, event gateways, event subprocesses -----------------------------------------------


def fire_boundary(walk: Interpreter, token: Token, boundary: NodeSpec, variables: Mapping[str, Any]) -> None:
    if boundary.cancel_activity or _is(boundary.event, EventKind.ERROR):
        walk.cancel(token)
    fresh = Token(walk.state.new_id(), boundary.id, token.scope)
    walk.state.tokens.append(fresh)
    walk.history(boundary, "start")
    walk.apply_outputs(fresh, boundary, variables)
    walk.leave(fresh, boundary)


def event_gateway(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    token.wait = Wait.EVENTS
    token.activation = walk.state.activate(node.id)
    for target_id in _targets(walk, token):
        target = walk.d.node(target_id)
        if _is(target.event, EventKind.TIMER):
            arm_timer(walk, token, target, token.activation)


def take_event(walk: Interpreter, token: Token, target: NodeSpec, variables: Mapping[str, Any]) -> None:
    """The first event after an event-based gateway happened: the others are off."""
    gateway = walk.d.node(token.node)
    walk.state.completed.append(gateway.id)
    flow = next(f for f in gateway.outgoing if walk.d.flows[f].target == target.id)
    token.node, token.flow, token.wait = target.id, flow, Wait.READY
    walk.history(target, "start")
    walk.apply_outputs(token, target, variables)
    walk.leave(token, target)


def enter_subprocess(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    body = node.subprocess
    if body is None or node.triggered_by_event:
        raise EngineIncident("{node} is not an embedded subprocess", node=node.id)
    token.wait = Wait.SCOPE
    token.activation = walk.state.activate(node.id)
    scope = Scope(walk.state.new_id(), token.scope, token.id, node.id)
    walk.state.scopes[scope.id] = scope
    token.child = scope.id
    arm_boundaries(walk, token, node)
    start = walk.d.start_event(body)
    arm_event_subprocesses(walk, body.id, scope.id, token.id, token.activation)
    walk.state.tokens.append(Token(walk.state.new_id(), start.id, scope.id))


def trigger_event_subprocess(
    walk: Interpreter, esp: NodeSpec, start: NodeSpec, scope_id: int, variables: Mapping[str, Any]
) -> None:
    if start.cancel_activity:
        for other in [t for t in walk.state.tokens if t.scope == scope_id]:
            walk.cancel(other)
    owner = Token(walk.state.new_id(), esp.id, scope_id, Wait.SCOPE)
    owner.activation = walk.state.activate(esp.id)
    scope = Scope(walk.state.new_id(), scope_id, owner.id, esp.id)
    walk.state.scopes[scope.id] = scope
    owner.child = scope.id
    walk.state.tokens.append(owner)
    walk.history(esp, "start")
    inner = Token(walk.state.new_id(), start.id, scope.id)
    walk.state.tokens.append(inner)
    walk.history(start, "start")
    walk.apply_outputs(inner, start, variables)
    walk.leave(inner, start)


def _scope_spec_id(walk: Interpreter, scope_id: int) -> str | None:
    if scope_id == ROOT_SCOPE:
        return walk.d.process.id
    scope = walk.state.scopes[scope_id]
    body = walk.d.node(scope.node).subprocess
    return body.id if body is not None and scope.mi is None else None


def _matches(walk: Interpreter, event: EventDefinition | None, kind: EventKind, name: str | None) -> bool:
    if event is None or event.kind is not kind:
        return False
    if event.ref is None or name is None:
        return True
    return name in (event.ref, walk.d.ref_name(_refs(walk, kind), event.ref))


def _refs(walk: Interpreter, kind: EventKind) -> Mapping[str, RefSpec]:
    return {
        EventKind.MESSAGE: walk.d.messages,
        EventKind.SIGNAL: walk.d.signals,
        EventKind.ERROR: walk.d.errors,
        EventKind.ESCALATION: walk.d.escalations,
    }.get(kind, {})


def throw_from(walk: Interpreter, token: Token, kind: EventKind, code: str | None) -> bool:
    """An activity threw an error or escalation: its own boundary first, then the enclosing scopes."""
    for boundary in walk.d.boundaries.get(token.node, ()):
        if _matches(walk, boundary.event, kind, code):
            fire_boundary(walk, token, boundary, {})
            return True
    if kind is EventKind.ERROR:
        walk.cancel(token)
    return throw_from_scope(walk, token.scope, kind, code)


def throw_from_scope(walk: Interpreter, scope_id: int, kind: EventKind, code: str | None) -> bool:
    """Propagate outwards: event subprocesses of each scope, then boundaries of its activity."""
    while True:
        spec_id = _scope_spec_id(walk, scope_id)
        for esp in walk.d.event_subprocesses.get(spec_id or "", ()):
            assert esp.subprocess is not None
            for start in esp.subprocess.start_events():
                if _matches(walk, start.event, kind, code):
                    trigger_event_subprocess(walk, esp, start, scope_id, {})
                    return True
        if scope_id == ROOT_SCOPE:
            break
        scope = walk.state.scopes[scope_id]
        owner = walk.state.token(scope.owner)
        if owner is not None:
            for boundary in walk.d.boundaries.get(owner.node, ()):
                if _matches(walk, boundary.event, kind, code):
                    fire_boundary(walk, owner, boundary, {})
                    return True
        scope_id = scope.parent
    if kind is EventKind.ERROR:
        raise EngineIncident("BPMN error {code} was not caught", code=code or "(no code)")
    return False


def deliver(
    walk: Interpreter, kind: EventKind, name: str, variables: Mapping[str, Any], *, first_only: bool
) -> bool:
    """Deliver a message or signal to the waits, boundaries, event gateways and event subprocesses."""
    matched = False
    wait = Wait.MESSAGE if kind is EventKind.MESSAGE else Wait.SIGNAL
    for token in list(walk.state.tokens):
        if token not in walk.state.tokens:
            continue  # cancelled by an earlier delivery in this loop
        if _deliver_to(walk, token, kind, wait, name, variables):
            matched = True
            if first_only:
                return True
    if matched and first_only:
        return True
    for scope_id in [ROOT_SCOPE, *walk.state.scopes]:
        spec_id = _scope_spec_id(walk, scope_id)
        for esp in walk.d.event_subprocesses.get(spec_id or "", ()):
            assert esp.subprocess is not None
            start = next(
                (s for s in esp.subprocess.start_events() if _matches(walk, s.event, kind, name)), None
            )
            if start is not None and scope_id in (ROOT_SCOPE, *walk.state.scopes):
                trigger_event_subprocess(walk, esp, start, scope_id, variables)
                if first_only:
                    return True
                matched = True
    return matched


def _deliver_to(
    walk: Interpreter, token: Token, kind: EventKind, wait: Wait, name: str, variables: Mapping[str, Any]
) -> bool:
    node = walk.d.node(token.node)
    if token.wait is wait:
        ref = node.event if node.event is not None else EventDefinition(kind, node.props.message_ref)
        if _matches(walk, ref, kind, name):
            walk.apply_outputs(token, node, variables)
            walk.leave(token, node)
            return True
        return False
    if token.wait is Wait.EVENTS:
        for target_id in _targets(walk, token):
            target = walk.d.node(target_id)
            if _matches(walk, target.event, kind, name):
                take_event(walk, token, target, variables)
                return True
        return False
    if token.wait in WAITING:
        for boundary in walk.d.boundaries.get(node.id, ()):
            if _matches(walk, boundary.event, kind, name):
                fire_boundary(walk, token, boundary, variables)
                return True
    return False


# --- the flow nodes that are events --------------------------------------------------------------


def end(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    kind = node.event.kind if node.event else EventKind.NONE
    if kind in (EventKind.NONE, EventKind.MESSAGE):
        walk.leave(token, node)
        return
    walk.state.completed.append(node.id)
    walk.history(node, "complete")
    walk.state.tokens.remove(token)
    ref = node.event.ref if node.event else None
    if kind is EventKind.TERMINATE:
        for other in [t for t in walk.state.tokens if t.scope == token.scope]:
            walk.cancel(other)
    elif kind is EventKind.ERROR:
        throw_from_scope(walk, token.scope, kind, walk.d.ref_name(walk.d.errors, ref))
    elif kind is EventKind.ESCALATION:
        throw_from_scope(walk, token.scope, kind, walk.d.ref_name(walk.d.escalations, ref))
    elif kind is EventKind.SIGNAL:
        deliver(walk, kind, walk.d.ref_name(walk.d.signals, ref) or "", {}, first_only=False)
    if token.scope == ROOT_SCOPE or token.scope in walk.state.scopes:
        scope_maybe_done(walk, token.scope)


def catch(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    kind = node.event.kind if node.event else EventKind.NONE
    waits = {EventKind.TIMER: Wait.TIMER, EventKind.MESSAGE: Wait.MESSAGE, EventKind.SIGNAL: Wait.SIGNAL}
    if kind not in waits:
        walk.leave(token, node)
        return
    token.wait = waits[kind]
    token.activation = walk.state.activate(node.id)
    if kind is EventKind.TIMER:
        arm_timer(walk, token, node, token.activation)


def throw(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    kind = node.event.kind if node.event else EventKind.NONE
    ref = node.event.ref if node.event else None
    if kind is EventKind.SIGNAL:
        deliver(walk, kind, walk.d.ref_name(walk.d.signals, ref) or "", {}, first_only=False)
    elif kind is EventKind.ESCALATION:
        throw_from_scope(walk, token.scope, kind, walk.d.ref_name(walk.d.escalations, ref))
    elif kind is EventKind.MESSAGE and node.props.task_type:
        walk.service(token, node)
        return
    if token in walk.state.tokens:  # an interrupting catch may have cancelled the thrower
        walk.leave(token, node)


def call(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    if not node.props.called_element:
        raise EngineIncident("call activity {node} names no process", node=node.id)
    token.wait = Wait.CALL
    token.activation = walk.state.activate(node.id)
    arm_boundaries(walk, token, node)
    walk.effects.append(
        CallStarted(
            token.id,
            node.id,
            token.activation,
            node.props.called_element,
            node.props.called_version_binding,
            walk.inputs(token, node),
        )
    )


# --- scopes and cancellation ----------------------------------------------------------------------


def scope_maybe_done(walk: Interpreter, scope_id: int) -> None:
    """An embedded or event subprocess whose last token left completes; its activity moves on."""
    if scope_id == ROOT_SCOPE or any(t.scope == scope_id for t in walk.state.tokens):
        return
    scope = walk.state.scopes.get(scope_id)
    if scope is None or scope.mi is not None:
        return
    del walk.state.scopes[scope_id]
    owner = walk.state.token(scope.owner)
    if owner is not None:
        walk.leave(owner, walk.d.node(owner.node))


def cancel(walk: Interpreter, token: Token) -> None:
    if token in walk.state.tokens:
        walk.state.tokens.remove(token)
    if token.wait is Wait.TASK:
        walk.effects.append(TaskClosed(token.id, token.node, cancelled=True))
    elif token.wait is Wait.CALL:
        walk.effects.append(CallCancelled(token.id))
    elif token.wait is Wait.SCOPE and token.child is not None:
        cancel_scope(walk, token.child)


def cancel_scope(walk: Interpreter, scope_id: int) -> None:
    for token in [t for t in walk.state.tokens if t.scope == scope_id]:
        cancel(walk, token)
    for child in [s.id for s in walk.state.scopes.values() if s.parent == scope_id]:
        cancel_scope(walk, child)
    walk.state.scopes.pop(scope_id, None)


def fire_inclusive_joins(walk: Interpreter) -> bool:
    """Release a converging inclusive gateway once no other token of its scope can still reach it."""
    for token in walk.state.tokens:
        if token.wait is not Wait.JOIN:
            continue
        node = walk.d.node(token.node)
        if node.kind is not NodeKind.INCLUSIVE_GATEWAY:
            continue
        here = [
            t
            for t in walk.state.tokens
            if t.node == node.id and t.scope == token.scope and t.wait is Wait.JOIN
        ]
        others = [t for t in walk.state.tokens if t.scope == token.scope and t not in here]
        if any(walk.d.reaches(t.node, node.id) for t in others):
            continue
        for other in here:
            if other is not token:
                walk.state.tokens.remove(other)
        token.wait = Wait.READY
        walk.inclusive_split(token, node)
        return True
    return False


def ended(walk: Interpreter) -> None:
    walk.effects.append(Ended(walk.state.status._value_))
