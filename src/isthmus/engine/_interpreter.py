"""The token walker: moves the tokens of one instance through its definition until each waits.

One :class:`Interpreter` serves one step on one instance: the caller loads the state, calls one
entry point (:meth:`start`, :meth:`complete`, :meth:`fire_timer`, :meth:`correlate` …), then stores
``state`` and carries out ``effects`` in the same transaction. Semantics follow Camunda 8 (Zeebe)
where BPMN 2.0 leaves room: conditions and mappings are FEEL, an exclusive gateway with no
matching flow and no default is an incident, a converging inclusive gateway waits only for tokens
that can still reach it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from isthmus.engine import _events, _multi
from isthmus.engine._definition import PASS, Definition, EngineModelError, Step
from isthmus.engine._effects import (
    Effect,
    EngineIncident,
    HistoryEvent,
    ServiceCall,
    TaskClosed,
    TaskOpened,
)
from isthmus.engine._state import ROOT_SCOPE, InstanceState, InstanceStatus, Token, Wait
from isthmus.models import EventKind, NodeKind, NodeSpec

MAX_MOVES = 100_000  # a model that loops without waiting is an incident, not a hung worker
WAITING = (Wait.TASK, Wait.SERVICE, Wait.TIMER, Wait.MESSAGE, Wait.SIGNAL, Wait.SCOPE, Wait.CALL)


class DecisionPort(Protocol):
    def decide(self, decision_ref: str, variables: Mapping[str, Any]) -> Any:
        """Evaluate the deployed decision ``decision_ref`` (``key`` or ``key:decision``) on the
        variables; the result as JSON data."""


class Interpreter:
    """One step of one instance. ``effects`` collects what the caller must carry out."""

    __slots__ = ("actor", "d", "decisions", "effects", "now", "state")

    def __init__(
        self,
        definition: Definition,
        state: InstanceState,
        *,
        now: datetime,
        decisions: DecisionPort | None = None,
        actor: str | None = None,
    ) -> None:
        self.d = definition
        self.state = state
        self.now = now
        self.decisions = decisions
        self.actor = actor
        self.effects: list[Effect] = []

    # --- entry points -------------------------------------------------------------------------

    def start(self, variables: Mapping[str, Any], *, event: EventKind = EventKind.NONE) -> None:
        """Put a token on the start event of the process (a ``message``/``signal`` one when asked)."""
        state = self.state
        state.variables.update(variables)
        start = self.d.start_event(self.d.process, event)
        state.tokens.append(Token(state.new_id(), start.id))
        if self.d.event_subprocesses:
            _events.arm_event_subprocesses(self, self.d.process.id, ROOT_SCOPE, 0, 0)
        self.run()

    def complete(self, token_id: int, variables: Mapping[str, Any], activation: int | None = None) -> None:
        """The task, service call, message wait or called instance of ``token_id`` is done."""
        for token in self.state.tokens:  # waiting(), inline: this runs at every wait of every instance
            if token.id == token_id:
                break
        else:
            token = self.waiting(token_id, activation)  # raises
        if token.wait not in WAITING or (activation is not None and token.activation != activation):
            token = self.waiting(token_id, activation)  # raises
        step = self.d.steps.get(token.node) or self.d.step(token.node)
        node = step.node
        if token.wait is TASK:
            self.effects.append(TaskClosed(token.id, node.id, False))
        if token.scope == ROOT_SCOPE and not node.props.outputs:
            self.state.variables.update(variables)  # apply_outputs, its common case inline
        else:
            self.apply_outputs(token, node, variables)
        self._leave(token, node, step, None)
        self.run()

    def waiting(self, token_id: int, activation: int | None = None) -> Token:
        for token in self.state.tokens:  # state.token(), inline
            if token.id == token_id:
                break
        else:
            token = None
        if (
            token is None
            or token.wait not in WAITING
            or (activation is not None and token.activation != activation)
        ):
            raise EngineIncident(
                "token {token} of this instance is not waiting there any more", token=token_id
            )
        return token

    def fire_timer(
        self, token_id: int, node_id: str, activation: int, fired: int = 0, due: datetime | None = None
    ) -> bool:
        """A timer job came due (at ``due``); False when it is stale (its token moved on)."""
        done = _events.fire_timer(self, token_id, node_id, activation, fired, due)
        if done:
            self.run()
        return done

    def correlate(self, message: str, variables: Mapping[str, Any]) -> bool:
        """Deliver message ``message`` (name or id) to the first subscription that waits for it."""
        done = _events.deliver(self, EventKind.MESSAGE, message, variables, first_only=True)
        if done:
            self.run()
        return done

    def signal(self, name: str, variables: Mapping[str, Any]) -> bool:
        done = _events.deliver(self, EventKind.SIGNAL, name, variables, first_only=False)
        if done:
            self.run()
        return done

    def throw_error(self, token_id: int, code: str, activation: int | None = None) -> None:
        """A service handler raised a BPMN error: caught by a boundary or event subprocess, else an incident."""
        token = self.waiting(token_id, activation)
        _events.throw_from(self, token, EventKind.ERROR, code)
        self.run()

    def terminate(self) -> None:
        for token in list(self.state.tokens):
            if token.scope == ROOT_SCOPE:
                self.cancel(token)
        self.state.status = InstanceStatus.TERMINATED
        self.run()

    # --- the walk -----------------------------------------------------------------------------

    def run(self) -> None:
        tokens = self.state.tokens
        joins = self.d.inclusive_joins
        steps = self.d.steps
        effects = self.effects
        for _ in range(MAX_MOVES):
            for token in tokens:
                if token.wait is READY:
                    break
            else:
                if joins and _events.fire_inclusive_joins(self):
                    continue
                break
            # execute(token), inline: one call less per move
            try:
                step = steps[token.node]
            except KeyError:
                step = self.d.step(token.node)  # raises EngineModelError naming the node
            if step.multi and not _multi.is_body(self.state, token):
                _multi.begin(self, token, step.node)
            else:
                if not step.gateway:
                    effects.append(step.started)
                if step.action is PASS:
                    self._leave(token, step.node, step, None)
                else:
                    DISPATCH[step.action](self, token, step.node)
        else:
            raise EngineIncident("the instance moved {n} times without waiting: a loop?", n=MAX_MOVES)
        if not tokens and self.state.status is ACTIVE:
            self.state.status = COMPLETED
            _events.ended(self)

    def execute(self, token: Token) -> None:
        step = self.d.steps.get(token.node) or self.d.step(token.node)
        node = step.node
        if step.multi and not _multi.is_body(self.state, token):
            _multi.begin(self, token, node)
            return
        if not step.gateway:
            self.effects.append(step.started)
        if step.action is PASS:
            self._leave(token, node, step, None)
            return
        DISPATCH[step.action](self, token, node)

    def leave(self, token: Token, node: NodeSpec, flows: tuple[str, ...] | None = None) -> None:
        """Complete ``node`` and move ``token`` along ``flows`` (default: the enabled outgoing flows)."""
        self._leave(token, node, self.d.steps.get(node.id) or self.d.step(node.id), flows)

    def _leave(self, token: Token, node: NodeSpec, step: Step, flows: tuple[str, ...] | None) -> None:
        state = self.state
        state.completed.append(node.id)
        if not step.gateway:
            self.effects.append(
                step.completed if self.actor is None or step.kind != _USER_TASK else self._done(node)
            )
        if state.scopes and _multi.is_body(state, token):
            _multi.body_done(self, token, node)
            return
        if flows is None:
            single = step.single
            if single is not None:  # one unconditional flow out: the common case of move(), inline
                token.node, token.flow, token.wait, token.child = single[1], single[0], READY, None
                return
            flows = step.uncontrolled
            if flows is None:
                flows = self.enabled_flows(token, node)
        if len(flows) == 1:  # the common case of move(), inline
            token.node, token.flow, token.wait, token.child = self.d.targets[flows[0]], flows[0], READY, None
            return
        self.move(token, node, flows)

    def move(self, token: Token, node: NodeSpec, flows: tuple[str, ...]) -> None:
        if not flows:
            self.consume(token)
            return
        targets = self.d.targets
        token.node, token.flow, token.wait, token.child = targets[flows[0]], flows[0], READY, None
        for flow_id in flows[1:]:
            self.state.tokens.append(Token(self.state.new_id(), targets[flow_id], token.scope, flow=flow_id))

    def enabled_flows(self, token: Token, node: NodeSpec) -> tuple[str, ...]:
        """Uncontrolled flow out of an activity or event: every flow without a condition or whose
        condition holds; the default flow when no conditional flow holds."""
        context: Mapping[str, Any] | None = None
        taken: list[str] = []
        conditional = False
        for flow_id in node.outgoing:
            if flow_id == node.default_flow:
                continue
            condition = self.d.flows[flow_id].condition
            if condition is None:
                taken.append(flow_id)
                continue
            conditional = True
            context = context if context is not None else self.view(token)
            if self.d.is_true(condition, context):
                taken.append(flow_id)
        if node.default_flow and (not taken or (conditional and len(taken) == 0)):
            taken.append(node.default_flow)
        return tuple(taken)

    def consume(self, token: Token) -> None:
        """Remove ``token``; an embedded subprocess whose last token this was completes."""
        self.state.tokens.remove(token)
        _events.scope_maybe_done(self, token.scope)

    def cancel(self, token: Token) -> None:
        """Remove ``token`` and everything below it (subprocess tokens, tasks, called instances)."""
        _events.cancel(self, token)

    # --- variables ----------------------------------------------------------------------------

    def context(self, token: Token) -> dict[str, Any]:
        """The variables visible at ``token``: the instance's, overlaid by its scopes' (inner wins)."""
        chain = []
        scope_id = token.scope
        while scope_id != ROOT_SCOPE:
            scope = self.state.scopes[scope_id]
            chain.append(scope.variables)
            scope_id = scope.parent
        if not chain:
            return dict(self.state.variables)
        merged = dict(self.state.variables)
        for variables in reversed(chain):
            merged.update(variables)
        return merged

    def view(self, token: Token) -> Mapping[str, Any]:
        """:meth:`context` for reading only: the instance's own variables when no scope overlays them."""
        if token.scope == ROOT_SCOPE:
            return self.state.variables
        return self.context(token)

    def set_variable(self, token: Token, name: str, value: Any) -> None:
        """Set in the innermost scope that defines ``name``, else on the instance (Camunda 7 rule)."""
        scope_id = token.scope
        while scope_id != ROOT_SCOPE:
            scope = self.state.scopes[scope_id]
            if name in scope.variables:
                scope.variables[name] = value
                return
            scope_id = scope.parent
        self.state.variables[name] = value

    def inputs(self, token: Token, node: NodeSpec) -> dict[str, Any]:
        """The variables an activity sees: its input mappings when it has some, else everything."""
        context = self.context(token)
        if not node.props.inputs:
            return context
        local = dict(context)
        for mapping in node.props.inputs:
            local[mapping.target] = self.d.evaluate(mapping.source, local)
        return local

    def apply_outputs(self, token: Token, node: NodeSpec, result: Mapping[str, Any]) -> None:
        if not node.props.outputs:
            if token.scope == ROOT_SCOPE:  # no scope can define the names: all go on the instance
                self.state.variables.update(result)
                return
            for name, value in result.items():
                self.set_variable(token, name, value)
            return
        local = self.inputs(token, node) | dict(result)
        for mapping in node.props.outputs:
            self.set_variable(token, mapping.target, self.d.evaluate(mapping.source, local))

    def history(self, node: NodeSpec, lifecycle: str) -> None:
        resource = self.actor if node.kind is NodeKind.USER_TASK and lifecycle == "complete" else None
        self.effects.append(HistoryEvent(node.id, node.label, lifecycle, resource))

    def _done(self, node: NodeSpec) -> HistoryEvent:
        return HistoryEvent(node.id, node.label, "complete", self.actor)

    # --- node kinds ---------------------------------------------------------------------------

    def _pass(self, token: Token, node: NodeSpec) -> None:
        self.leave(token, node)

    def _wait(self, token: Token, node: NodeSpec, wait: Wait) -> None:
        token.wait = wait
        activations = self.state.activations  # state.activate(), inline
        token.activation = activations[node.id] = activations.get(node.id, 0) + 1
        if node.id in self.d.boundaries:
            _events.arm_boundaries(self, token, node)

    def _user_task(self, token: Token, node: NodeSpec) -> None:
        # _wait(token, node, TASK), inline
        token.wait = TASK
        activations = self.state.activations
        token.activation = activations[node.id] = activation = activations.get(node.id, 0) + 1
        if node.id in self.d.boundaries:
            _events.arm_boundaries(self, token, node)
        self.effects.append(TaskOpened(token.id, node.id, activation))

    def _service_task(self, token: Token, node: NodeSpec) -> None:
        if node.kind is _SEND_TASK and not node.props.task_type:
            self.leave(token, node)  # an unbound send task has nothing to deliver
            return
        # _wait(token, node, SERVICE), inline
        token.wait = SERVICE
        activations = self.state.activations
        token.activation = activations[node.id] = activation = activations.get(node.id, 0) + 1
        if node.id in self.d.boundaries:
            _events.arm_boundaries(self, token, node)
        self.effects.append(ServiceCall(token.id, node.id, activation))

    def service(self, token: Token, node: NodeSpec) -> None:
        self._wait(token, node, SERVICE)
        self.effects.append(ServiceCall(token.id, node.id, token.activation))

    def _script_task(self, token: Token, node: NodeSpec) -> None:
        script = node.props.script
        if script is None or (node.props.script_format or "feel").lower() != "feel":
            raise EngineModelError(f"script task {node.id} needs a FEEL script")
        value = self.d.evaluate(script, self.inputs(token, node))
        result = {node.props.result_variable: value} if node.props.result_variable else {}
        self.apply_outputs(token, node, result)
        self.leave(token, node)

    def _rule_task(self, token: Token, node: NodeSpec) -> None:
        props = node.props
        ref = props.decision_ref
        if self.decisions is None or not ref:
            raise EngineIncident("business rule task {node} has no decision to evaluate", node=node.id)
        plain = token.scope == ROOT_SCOPE  # no scope overlays the instance's variables
        # inputs() and apply_outputs(), their common case inline: a copy of the instance's variables in,
        # the result onto the instance
        variables = dict(self.state.variables) if plain and not props.inputs else self.inputs(token, node)
        value = self.decisions.decide(ref, variables)
        if props.result_variable:
            result = {props.result_variable: value}
        else:
            result = dict(value) if isinstance(value, Mapping) else {}
        if plain and not props.outputs:
            self.state.variables.update(result)
        else:
            self.apply_outputs(token, node, result)
        self.leave(token, node)

    def _exclusive(self, token: Token, node: NodeSpec) -> None:
        if len(node.outgoing) <= 1:
            self.leave(token, node)
            return
        context = self.state.variables if token.scope == ROOT_SCOPE else self.context(token)  # view()
        flows = self.d.flows
        for flow_id in node.outgoing:
            condition = flows[flow_id].condition
            if flow_id != node.default_flow and (condition is None or self.d.is_true(condition, context)):
                self.leave(token, node, (flow_id,))
                return
        if node.default_flow is None:
            raise EngineIncident(
                "no outgoing flow of gateway {node} matched and it has no default", node=node.id
            )
        self.leave(token, node, (node.default_flow,))

    def _inclusive(self, token: Token, node: NodeSpec) -> None:
        if len(node.incoming) > 1:
            token.wait = JOIN  # _events.fire_inclusive_joins releases it
            return
        self._inclusive_split(token, node)

    def _inclusive_split(self, token: Token, node: NodeSpec) -> None:
        flows = self.enabled_flows(token, node)
        if not flows and len(node.outgoing) > 0:
            raise EngineIncident(
                "no outgoing flow of gateway {node} matched and it has no default", node=node.id
            )
        self.leave(token, node, flows)

    def inclusive_split(self, token: Token, node: NodeSpec) -> None:
        self._inclusive_split(token, node)

    def _parallel(self, token: Token, node: NodeSpec) -> None:
        if len(node.incoming) > 1:
            token.wait = JOIN
            arrived: dict[str | None, Token] = {token.flow: token}
            for other in self.state.tokens:
                if other.wait is JOIN and other.node == node.id and other.scope == token.scope:
                    arrived.setdefault(other.flow, other)
            for flow in node.incoming:
                if flow not in arrived:
                    return
            for other in arrived.values():
                if other is not token:
                    self.state.tokens.remove(other)
            token.wait = READY
        self.leave(token, node, node.outgoing)

    def service_result(self, token_id: int) -> tuple[Token, NodeSpec]:
        token = self.waiting(token_id)
        return token, self.d.node(token.node)


GATEWAYS = frozenset(k for k in NodeKind if k.is_gateway)
# members as module constants: reading ``Wait.READY`` goes through the enum class's attribute
# lookup (a few hundred ns), reading a global does not
READY, JOIN, TASK, SERVICE = Wait.READY, Wait.JOIN, Wait.TASK, Wait.SERVICE
ACTIVE, COMPLETED = InstanceStatus.ACTIVE, InstanceStatus.COMPLETED
_USER_TASK = NodeKind.USER_TASK.value
_SEND_TASK = NodeKind.SEND_TASK

# One table for every instance: building it per step cost more than some steps themselves. Keyed
# by the kind's text: hashing a str is a C call, hashing an enum member a Python one.
DISPATCH: dict[str, Callable[[Interpreter, Token, NodeSpec], None]] = {
    PASS: Interpreter.leave,  # a node whose handler would only call leave(token, node)
    NodeKind.START_EVENT.value: Interpreter._pass,
    NodeKind.END_EVENT.value: lambda w, t, n: _events.end(w, t, n),
    NodeKind.TASK.value: Interpreter._pass,
    NodeKind.MANUAL_TASK.value: Interpreter._pass,
    NodeKind.USER_TASK.value: Interpreter._user_task,
    NodeKind.SERVICE_TASK.value: Interpreter._service_task,
    NodeKind.SEND_TASK.value: Interpreter._service_task,
    NodeKind.RECEIVE_TASK.value: lambda w, t, n: w._wait(t, n, Wait.MESSAGE),
    NodeKind.SCRIPT_TASK.value: Interpreter._script_task,
    NodeKind.BUSINESS_RULE_TASK.value: Interpreter._rule_task,
    NodeKind.EXCLUSIVE_GATEWAY.value: Interpreter._exclusive,
    NodeKind.INCLUSIVE_GATEWAY.value: Interpreter._inclusive,
    NodeKind.PARALLEL_GATEWAY.value: Interpreter._parallel,
    NodeKind.EVENT_BASED_GATEWAY.value: lambda w, t, n: _events.event_gateway(w, t, n),
    NodeKind.INTERMEDIATE_CATCH_EVENT.value: lambda w, t, n: _events.catch(w, t, n),
    NodeKind.INTERMEDIATE_THROW_EVENT.value: lambda w, t, n: _events.throw(w, t, n),
    NodeKind.BOUNDARY_EVENT.value: Interpreter._pass,
    NodeKind.SUB_PROCESS.value: lambda w, t, n: _events.enter_subprocess(w, t, n),
    NodeKind.CALL_ACTIVITY.value: lambda w, t, n: _events.call(w, t, n),
}
