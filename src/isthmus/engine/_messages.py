"""Message subscriptions, message and timer start events, and escalation rules.

Which messages an instance waits for is a function of its state: the tokens waiting at a message
catch event or receive task, the message boundary events of waiting activities, the message events
after a waiting event-based gateway and the message starts of the event subprocesses of every live
scope. :func:`subscriptions` computes that set; the service writes the difference to the previous
set in the step's transaction, so a subscription row exists exactly while the wait does and a
published message finds its instances through an index instead of a scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from isthmus.engine import _events
from isthmus.engine._definition import Definition, parse_cycle, parse_duration, parse_instant
from isthmus.engine._effects import EngineIncident
from isthmus.engine._state import ROOT_SCOPE, Token, Wait
from isthmus.models import EventDefinition, EventKind, NodeKind, NodeSpec, TimerKind

if TYPE_CHECKING:
    from isthmus.engine._interpreter import Interpreter

#: ``token`` of a subscription or timer that belongs to the process itself (a start event).
PROCESS_TOKEN = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSubscription:
    """One wait for message ``message_name`` with ``correlation_key`` (None: published without a key).

    Instance subscriptions name the waiting ``token`` (the activity's token for a boundary event,
    the gateway's for an event-based gateway, the scope owner for an event subprocess start) and
    the catching ``node_id``; start subscriptions have no ``instance_id`` and ``token`` 0."""

    message_name: str
    correlation_key: str | None
    instance_id: str | None
    token: int
    node_id: str
    activation: int
    process_key: str
    process_version: int
    created_at: datetime
    id: int = 0

    @property
    def slot(self) -> tuple[int, str, int]:
        return (self.token, self.node_id, self.activation)

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_name": self.message_name,
            "correlation_key": self.correlation_key,
            "instance_id": self.instance_id,
            "node_id": self.node_id,
            "process_key": self.process_key,
            "process_version": self.process_version,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """An escalation notice for a user or a group (``recipient_kind`` ``user`` or ``group``)."""

    instance_id: str
    task_id: int | None
    node_id: str
    recipient_kind: str
    recipient: str
    text: str
    created_at: datetime
    read_at: datetime | None = None
    id: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance_id": self.instance_id,
            "task_id": self.task_id,
            "node_id": self.node_id,
            "recipient_kind": self.recipient_kind,
            "recipient": self.recipient,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "read_at": self.read_at.isoformat() if self.read_at else None,
        }


def key_text(value: Any) -> str | None:
    """A correlation key as stored and compared: text; whole numbers without a fraction."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal) and value == int(value):
        return str(int(value))
    return str(value)


def _message_name(d: Definition, event: EventDefinition | None, node: NodeSpec) -> str | None:
    ref = event.ref if event is not None else node.props.message_ref
    return d.ref_name(d.messages, ref) if ref else None


def _is_message(event: EventDefinition | None) -> bool:
    return event is not None and event.kind is EventKind.MESSAGE


def has_messages(d: Definition) -> bool:
    """Whether any node of ``d`` catches a message (else subscriptions never need a look)."""
    return any(
        (
            _is_message(n.event)
            and n.kind is not NodeKind.INTERMEDIATE_THROW_EVENT
            and n.kind is not NodeKind.END_EVENT
        )
        or n.kind is NodeKind.RECEIVE_TASK
        for n in d.nodes.values()
    )


class _Collector:
    """Gathers the subscriptions of one instance (one evaluation context per waiting token)."""

    def __init__(self, walk: Interpreter, instance_id: str, business_key: str | None, now: datetime) -> None:
        self.walk, self.instance_id, self.business_key, self.now = walk, instance_id, business_key, now
        self.found: list[MessageSubscription] = []

    def add(self, token: Token, catcher: NodeSpec, activation: int) -> None:
        d = self.walk.d
        name = _message_name(d, catcher.event, catcher)
        if name is None:
            return
        expression = catcher.props.correlation_key
        if not expression and catcher.event is not None and catcher.event.ref:
            message = d.messages.get(catcher.event.ref)  # Zeebe: <zeebe:subscription> on the message
            expression = message.correlation_key if message is not None else None
        if expression:
            try:
                key = key_text(d.evaluate(expression, self.walk.context(token)))
            except Exception:  # a key that cannot be evaluated matches nothing but a keyless publish
                key = None
        else:
            key = self.business_key
        self.found.append(
            MessageSubscription(
                message_name=name,
                correlation_key=key,
                instance_id=self.instance_id,
                token=token.id,
                node_id=catcher.id,
                activation=activation,
                process_key=d.key,
                process_version=d.version,
                created_at=self.now,
            )
        )

    def token(self, token: Token) -> None:
        d = self.walk.d
        node = d.nodes.get(token.node)
        if node is None:
            return
        if token.wait is Wait.MESSAGE:
            self.add(token, node, token.activation)
        elif token.wait is Wait.EVENTS:
            for flow_id in node.outgoing:
                target = d.node(d.flows[flow_id].target)
                if _is_message(target.event):
                    self.add(token, target, token.activation)
        if token.wait in _events.WAITING:
            for boundary in d.boundaries.get(node.id, ()):
                if _is_message(boundary.event):
                    self.add(token, boundary, token.activation)

    def scope(self, scope_id: int) -> None:
        d, state = self.walk.d, self.walk.state
        spec_id = _events._scope_spec_id(self.walk, scope_id)
        owner = 0 if scope_id == ROOT_SCOPE else state.scopes[scope_id].owner
        for esp in d.event_subprocesses.get(spec_id or "", ()):
            assert esp.subprocess is not None
            for start in esp.subprocess.start_events():
                if _is_message(start.event):
                    self.add(Token(owner, start.id, scope_id), start, scope_id)


def subscriptions(
    walk: Interpreter, *, instance_id: str, business_key: str | None, now: datetime
) -> list[MessageSubscription]:
    """Every message the instance of ``walk`` waits for now (empty once it ended)."""
    if walk.state.status.value != "active":
        return []
    collect = _Collector(walk, instance_id, business_key, now)
    for token in walk.state.tokens:
        collect.token(token)
    for scope_id in [ROOT_SCOPE, *walk.state.scopes]:
        collect.scope(scope_id)
    return collect.found


def deliver(walk: Interpreter, subscription: MessageSubscription, variables: dict[str, Any]) -> bool:
    """Deliver a message to exactly the wait ``subscription`` names; False when it is gone."""
    d, state = walk.d, walk.state
    node = d.nodes.get(subscription.node_id)
    if node is None or state.status.value != "active":
        return False
    if node.kind is NodeKind.START_EVENT:
        scope_id = subscription.activation
        if scope_id != ROOT_SCOPE and scope_id not in state.scopes:
            return False
        esp = _events._esp_of(walk, node)
        if esp is None:
            return False
        _events.trigger_event_subprocess(walk, esp, node, scope_id, variables)
        walk.run()
        return True
    token = state.token(subscription.token)
    if token is None or token.activation != subscription.activation:
        return False
    if node.kind is NodeKind.BOUNDARY_EVENT:
        if token.node != node.attached_to or token.wait not in _events.WAITING:
            return False
        _events.fire_boundary(walk, token, node, variables)
    elif token.wait is Wait.EVENTS:
        _events.take_event(walk, token, node, variables)
    elif token.wait is Wait.MESSAGE and token.node == node.id:
        walk.apply_outputs(token, node, variables)
        walk.leave(token, node)
    else:
        return False
    walk.run()
    return True


# --- process-level start events -------------------------------------------------------------------


def process_starts(d: Definition, kind: EventKind) -> list[NodeSpec]:
    """The start events of ``kind`` of the process itself (not of its event subprocesses)."""
    return [n for n in d.process.start_events() if n.event is not None and n.event.kind is kind]


def start_at(walk: Interpreter, node_id: str, variables: dict[str, Any]) -> None:
    """Begin a new instance on start event ``node_id`` (a message or timer start)."""
    start = walk.d.node(node_id)
    walk.state.variables.update(variables)
    walk.state.tokens.append(Token(walk.state.new_id(), start.id))
    _events.arm_event_subprocesses(walk, walk.d.process.id, ROOT_SCOPE, 0, 0)
    walk.run()


def start_timer_due(
    d: Definition, node: NodeSpec, *, deployed_at: datetime, fired: int, previous: datetime | None
) -> datetime | None:
    """When timer start ``node`` fires for the ``fired``-th time (0 = first); None when done.

    ``timeDate`` fires once at its date, ``timeDuration`` once that long after the deployment,
    ``timeCycle`` ``R[n]/[start/]PT…`` every period from its start (default: the deployment), each
    due time counted from the previous due time so a late worker does not shift the schedule."""
    spec = node.event.timer if node.event else None
    if spec is None:
        raise EngineIncident("timer start event {node} has no timer definition", node=node.id)
    text = spec.expression
    if spec.feel:
        text = str(d.evaluate(text, {}))
    if spec.kind is TimerKind.DATE:
        return parse_instant(text) if fired == 0 else None
    if spec.kind is TimerKind.DURATION:
        return deployed_at + parse_duration(text) if fired == 0 else None
    cycle = parse_cycle(text)
    if cycle.repeat is not None and fired >= cycle.repeat:
        return None
    if previous is not None:
        return previous + cycle.every
    parts = text.strip().split("/")
    if len(parts) == 3:
        return parse_instant(parts[1])
    return deployed_at + cycle.every


# --- escalation rules ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """One action of ``isthmus:escalate``: ``reassign`` or ``notify`` a ``user`` or a ``group``."""

    action: str
    kind: str
    targets: tuple[str, ...]


def parse_escalation(text: str) -> list[EscalationRule]:
    """``reassign:group:a,b; notify:user:c`` (``reassign:NAME`` is a group). Raises ValueError."""
    rules: list[EscalationRule] = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in part.split(":")]
        if pieces[0] not in ("reassign", "notify") or len(pieces) not in (2, 3):
            raise ValueError(f"not an escalation rule: {part!r} (reassign|notify:[user|group:]names)")
        if len(pieces) == 2:
            pieces.insert(1, "group")
        if pieces[1] not in ("user", "group"):
            raise ValueError(f"escalation target must be user or group, not {pieces[1]!r}")
        names = tuple(n.strip() for n in pieces[2].split(",") if n.strip())
        if not names:
            raise ValueError(f"escalation rule {part!r} names nobody")
        if pieces[0] == "reassign" and pieces[1] == "user" and len(names) != 1:
            raise ValueError(f"an escalation reassigns to one user, not several: {part!r}")
        rules.append(EscalationRule(pieces[0], pieces[1], names))
    if not rules:
        raise ValueError("an empty escalation rule")
    return rules


__all__ = [
    "PROCESS_TOKEN",
    "EscalationRule",
    "MessageSubscription",
    "Notification",
    "deliver",
    "has_messages",
    "key_text",
    "parse_escalation",
    "process_starts",
    "start_at",
    "start_timer_due",
    "subscriptions",
]
