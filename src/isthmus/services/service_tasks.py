"""Service tasks: what a service (or send) task binding runs, and the job that runs it.

A binding is ``flow:<id>`` (an integration flow, through the :class:`FlowInvoker` port) or a handler
name registered in code (:meth:`ServiceHandlers.register`) or through the entry point group
``isthmus.service_handlers``. Every call carries an idempotency key
``<instance id>:<node id>:<activation>``: a worker that dies after the call but before its commit
runs the call again with the same key, so handlers with outside effects must deduplicate on it.

A handler registered ``inline`` (local and quick: no remote I/O, it runs while the step's database
transaction is open) runs *synchronously*, Camunda 7 style: in the unit of work of the step that
reached the task (an instance start, a task completion, a message, a job's step), with attempt 1,
and the token goes on in the same step (:class:`InlineServices`). Failures keep the job semantics:
see :class:`InlineServices`. Flow bindings and tasks marked ``isthmus:async`` /
``camunda:asyncBefore`` always run as jobs.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Protocol

from isthmus.engine import (
    BpmnError,
    Definition,
    InstanceState,
    Interpreter,
    ProcessInstance,
    ServiceCall,
    TimerSet,
    Wait,
    load_state,
    state_from_json,
    state_to_json,
)
from isthmus.errors import IsthmusError, Terminal
from isthmus.jobs import Job
from isthmus.models import NodeKind, NodeSpec
from isthmus.services.engine_steps import Stepper
from isthmus.services.ports import UnitOfWork

log = logging.getLogger("isthmus.engine")

ENTRY_POINT_GROUP = "isthmus.service_handlers"
#: a handler (function or object) with this attribute set to True runs inline (see the module doc)
INLINE_ATTRIBUTE = "isthmus_inline"
#: service tasks run inline in one step at most; the next one becomes a job (a model looping
#: through inline tasks would otherwise hold one transaction for ever)
MAX_INLINE = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceRequest:
    """What a handler gets; return a mapping of variables to set (or None)."""

    idempotency_key: str
    instance_id: str
    business_key: str | None
    node_id: str
    task_type: str
    variables: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1


ServiceHandler = Callable[[ServiceRequest], Mapping[str, Any] | None]


class FlowInvoker(Protocol):
    def invoke(
        self, flow_id: str, request: ServiceRequest, uow: UnitOfWork | None
    ) -> Mapping[str, Any] | None:
        """Run integration flow ``flow_id`` with the request's variables (read the flow through
        ``uow``, the job's unit of work, when given); its output variables. Raises a ``Transient``
        error to be retried, a ``Terminal`` one to become an incident."""


class NoFlowRegistry(IsthmusError, Terminal):
    code = "no_flow_registry"


class UnknownServiceHandler(IsthmusError, Terminal):
    code = "unknown_service_handler"


class NoFlows:
    """The :class:`FlowInvoker` until the Connect module provides flows."""

    def invoke(
        self, flow_id: str, request: ServiceRequest, uow: UnitOfWork | None
    ) -> Mapping[str, Any] | None:
        raise NoFlowRegistry(
            "service task {node} is bound to flow {flow}, but there is no flow registry yet",
            node=request.node_id,
            flow=flow_id,
        )


class ServiceHandlers:
    """Handlers by name: registered in code, else loaded once from the entry point group."""

    def __init__(self, flows: FlowInvoker | None = None) -> None:
        self.flows: FlowInvoker = flows or NoFlows()
        self._handlers: dict[str, ServiceHandler] = {}
        self._inline: dict[str, ServiceHandler] = {}
        self._loaded = False
        self._lock = threading.Lock()

    def register(self, name: str, handler: ServiceHandler, *, inline: bool | None = None) -> None:
        """``inline=True``: the handler is local and quick and runs inside the step that reaches its
        task (never for remote I/O: the step's database transaction stays open while it runs).
        ``None``: the handler's ``isthmus_inline`` attribute decides (default: a job)."""
        self._handlers[name] = handler
        if inline is None:
            inline = getattr(handler, INLINE_ATTRIBUTE, False) is True
        if inline:
            self._inline[name] = handler
        else:
            self._inline.pop(name, None)

    def _load_entry_points(self) -> None:
        with self._lock:
            if self._loaded:
                return
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if ep.name not in self._handlers:
                    self.register(ep.name, ep.load())
            self._loaded = True

    def inline(self, task_type: str | None) -> ServiceHandler | None:
        """The handler of ``task_type`` when it runs inline, else None (a flow binding never does)."""
        if not task_type or task_type.startswith("flow:"):
            return None  # remote I/O: never inside a step's transaction
        handler = self._inline.get(task_type)
        if handler is None and not self._loaded:
            self._load_entry_points()
            handler = self._inline.get(task_type)
        return handler

    def call(
        self, task_type: str | None, request: ServiceRequest, uow: UnitOfWork | None = None
    ) -> Mapping[str, Any] | None:
        if not task_type:
            raise UnknownServiceHandler("service task {node} has no binding", node=request.node_id)
        if task_type.startswith("flow:"):
            return self.flows.invoke(task_type.removeprefix("flow:"), request, uow)
        handler = self._handlers.get(task_type)
        if handler is None and not self._loaded:
            self._load_entry_points()
            handler = self._handlers.get(task_type)
        if handler is None:
            raise UnknownServiceHandler(
                "service task {node}: no handler named {name} (register one in the entry point group "
                + ENTRY_POINT_GROUP
                + ")",
                node=request.node_id,
                name=task_type,
            )
        return handler(request)


class ServiceJob:
    """The ``engine.service`` job handler: call the binding, then complete the task in the same step."""

    def __init__(self, stepper: Stepper, handlers: ServiceHandlers) -> None:
        self.stepper = stepper
        self.handlers = handlers

    def __call__(self, job: Job, uow: UnitOfWork) -> None:
        p = job.payload
        record = uow.instances.get(p["i"])
        if record is None or record.status != "active":
            return
        state = load_state(record.state)
        token = state.token(p["t"])
        if (
            token is None
            or token.activation != p["a"]
            or token.wait is not Wait.SERVICE
            or token.node != p["n"]
        ):
            return  # stale: an interrupting event moved the token on
        definition = self.stepper.definitions.get(uow, record.definition_key, record.definition_version)
        node = definition.node(p["n"])

        variables = Interpreter(definition, state, now=self.stepper.clock.now()).inputs(token, node)
        request = _request(record, node, token.activation, variables, job.attempts)
        t, a = token.id, token.activation
        try:
            result = self.handlers.call(node.props.task_type, request, uow)
        except BpmnError as error:
            code = error.code
            self.stepper.step(
                uow, record.id, lambda w: w.throw_error(t, code, a), actor=None, loaded=record, state=state
            )
            return
        self.stepper.step(
            uow,
            record.id,
            lambda w: w.complete(t, dict(result or {}), a),
            actor=None,
            loaded=record,
            state=state,
        )


def _request(
    record: ProcessInstance, node: NodeSpec, activation: int, variables: Mapping[str, Any], attempt: int
) -> ServiceRequest:
    return ServiceRequest(
        idempotency_key=f"{record.id}:{node.id}:{activation}",
        instance_id=record.id,
        business_key=record.business_key,
        node_id=node.id,
        task_type=node.props.task_type or "",
        variables=variables,
        headers=dict(node.props.headers),
        attempt=attempt,
    )


class InlineServices:
    """The stepper's inline hook: runs the service tasks a step reached whose handler is inline,
    in the step's unit of work, and continues their tokens — chains of inline tasks and parallel
    branches all in the same step, at most ``limit`` tasks (the rest become jobs).

    Failures are a job's first attempt failing (:func:`isthmus.services.jobs.settle` decides, as for
    jobs): a transient error makes the task a job for attempt 2 after the policy's back-off, a
    terminal one an incident job; a :class:`BpmnError` takes the error path. When continuing the
    token raises (a gateway without a matching flow after the task …) the state goes back to the
    task, which fails with that error — as a job's step would. A crash before the commit rolls the
    whole step back: the handler runs again later with the same idempotency key.
    """

    def __init__(self, handlers: ServiceHandlers, limit: int = MAX_INLINE) -> None:
        self.handlers = handlers
        self.limit = limit

    def __call__(
        self, uow: UnitOfWork, record: ProcessInstance, definition: Definition, walk: Interpreter
    ) -> dict[tuple[int, int], BaseException] | None:
        """The failed first attempts by (token, activation); their ``ServiceCall`` stays in the
        effects (a job is made of it). None when nothing failed."""
        effects = walk.effects
        failed: dict[tuple[int, int], BaseException] | None = None
        ran = 0
        i = 0
        while i < len(effects):
            effect = effects[i]
            if effect.__class__ is not ServiceCall or ran >= self.limit:
                i += 1
                continue
            assert isinstance(effect, ServiceCall)
            node = definition.node(effect.node)
            handler = None if node.props.async_before else self.handlers.inline(node.props.task_type)
            if handler is None:
                i += 1
                continue
            ran += 1
            del effects[i]  # handled here: no job (kept, or put back, only when it fails)
            token = walk.state.token(effect.token)
            if token is None or token.activation != effect.activation or token.wait is not Wait.SERVICE:
                continue  # cancelled later in this step (an error path, a terminate …)
            request = _request(record, node, effect.activation, walk.inputs(token, node), 1)
            t, a = effect.token, effect.activation
            try:
                result = handler(request)
            except BpmnError as thrown:
                failure = self._go_on(walk, t, a, None, thrown.code)
            except Exception as error:
                failure = error
            else:
                failure = self._go_on(walk, t, a, dict(result or {}), None)
            if failure is not None:  # logged with its outcome when the job is made (engine_steps)
                effects.insert(i, effect)
                i += 1
                failed = failed if failed is not None else {}
                failed[(t, a)] = failure
        if ran:
            _drop_stale_timers(walk, definition)
        return failed

    @staticmethod
    def _go_on(
        walk: Interpreter, token: int, activation: int, result: dict[str, Any] | None, code: str | None
    ) -> Exception | None:
        """Complete the task with ``result`` (or throw BPMN error ``code``) and move on; when that
        raises, put the state and the effects back as they were and return the error."""
        mark, restore = len(walk.effects), _snapshot(walk.state)
        try:
            if code is None:
                walk.complete(token, result or {}, activation)
            else:
                walk.throw_error(token, code, activation)
        except Exception as error:
            walk.state = restore()
            del walk.effects[mark:]
            return error
        return None


def _snapshot(state: InstanceState) -> Callable[[], InstanceState]:
    """A copy of ``state`` to go back to: its JSON text (what is stored anyway, ~3 µs on the demo),
    a deep copy when a variable is not JSON."""
    try:
        text = state_to_json(state)
    except (TypeError, ValueError):
        copied = copy.deepcopy(state)
        return lambda: copied
    return lambda: state_from_json(text)


def _drop_stale_timers(walk: Interpreter, definition: Definition) -> None:
    """Boundary timers armed in this step on a task that already finished in it (an inline task):
    stale before they are written, so never written."""
    state = walk.state
    keep = []
    for effect in walk.effects:
        if effect.__class__ is TimerSet:
            assert isinstance(effect, TimerSet)
            node = definition.nodes.get(effect.node)
            if node is not None and node.kind is NodeKind.BOUNDARY_EVENT:
                token = state.token(effect.token)
                if token is None or token.activation != effect.activation or token.node != node.attached_to:
                    continue
        keep.append(effect)
    walk.effects[:] = keep


class TimerJob:
    """The ``engine.timer`` job handler: a timer came due; stale timers change nothing."""

    def __init__(self, stepper: Stepper) -> None:
        self.stepper = stepper

    def __call__(self, job: Job, uow: UnitOfWork) -> None:
        p = job.payload
        record = uow.instances.get(p["i"])
        if record is None or record.status != "active":
            return
        due = datetime.fromisoformat(p["d"]) if "d" in p else None
        self.stepper.step(
            uow,
            record.id,
            lambda w: w.fire_timer(p["t"], p["n"], p["a"], p.get("f", 0), due),
            actor=None,
            loaded=record,
        )
