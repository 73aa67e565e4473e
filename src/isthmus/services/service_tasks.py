"""Service tasks: what a service (or send) task binding runs, and the job that runs it.

A binding is ``flow:<id>`` (an integration flow, through the :class:`FlowInvoker` port) or a handler
name registered in code (:meth:`ServiceHandlers.register`) or through the entry point group
``isthmus.service_handlers``. Every call carries an idempotency key
``<instance id>:<node id>:<activation>``: a worker that dies after the call but before its commit
runs the call again with the same key, so handlers with outside effects must deduplicate on it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Protocol

from isthmus.engine import BpmnError, Interpreter, Wait, load_state
from isthmus.errors import IsthmusError, Terminal
from isthmus.jobs import Job
from isthmus.services.engine_steps import Stepper
from isthmus.services.ports import UnitOfWork

log = logging.getLogger("isthmus.engine")

ENTRY_POINT_GROUP = "isthmus.service_handlers"


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
        self._loaded = False
        self._lock = threading.Lock()

    def register(self, name: str, handler: ServiceHandler) -> None:
        self._handlers[name] = handler

    def _load_entry_points(self) -> None:
        with self._lock:
            if self._loaded:
                return
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._handlers.setdefault(ep.name, ep.load())
            self._loaded = True

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
        request = ServiceRequest(
            idempotency_key=f"{record.id}:{node.id}:{token.activation}",
            instance_id=record.id,
            business_key=record.business_key,
            node_id=node.id,
            task_type=node.props.task_type or "",
            variables=variables,
            headers=dict(node.props.headers),
            attempt=job.attempts,
        )
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
