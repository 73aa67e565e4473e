"""Service tasks bound to integration flows (``isthmus:flow="ID"`` → ``flow:ID``).

The service job maps the task's input variables with the flow's mapping (the same FEEL mapping,
rules, code tables and masks as every record of the flow) and sends the result to the flow's
target **synchronously**, with the task's idempotency key, inside the job. A failure the target
may recover from (5xx, timeout, refused connection) is a ``Transient`` error: the engine job
retries it per the task's policy (default 1 + 3 attempts with backoff), then it becomes an
incident an operator fixes (edit variables) and retries. A record the flow's rules reject, or a
4xx, is terminal at once. The task gets the mapped record back as its output variables, so its
output mappings can pick from what was sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from isthmus.errors import IsthmusError, Terminal
from isthmus.integration import Outbound, Rejected
from isthmus.services.integration import FlowService
from isthmus.services.ports import UnitOfWork
from isthmus.services.service_tasks import ServiceRequest

ConnectionLookup = Callable[[UnitOfWork, str], dict[str, Any]]


class FlowNotDeployed(IsthmusError, Terminal):
    code = "flow_not_deployed"


class FlowRejected(IsthmusError, Terminal):
    code = "flow_rejected"


class FlowServiceInvoker:
    """The :class:`~isthmus.services.service_tasks.FlowInvoker` on the Connect module's flows."""

    def __init__(self, flows: FlowService, connections: ConnectionLookup | None = None) -> None:
        self._flows = flows
        self._connections = connections

    def invoke(
        self, flow_id: str, request: ServiceRequest, uow: UnitOfWork | None
    ) -> Mapping[str, Any] | None:
        if uow is None:
            raise FlowNotDeployed("service task {node}: flows run inside an engine job", node=request.node_id)
        deployed = uow.flows.get(flow_id)
        if deployed is None:
            raise FlowNotDeployed(
                "service task {node} is bound to flow {flow}, which is not deployed",
                node=request.node_id,
                flow=flow_id,
            )
        mapper = self._flows.cache.mapper(deployed)
        flow = mapper.flow
        mapped = mapper.map_record(dict(request.variables))
        if isinstance(mapped, Rejected):
            raise FlowRejected(
                "service task {node}: flow {flow} rejected the task's data: {error}",
                node=request.node_id,
                flow=flow_id,
                error=mapped.error,
            )
        registry = self._connections(uow, flow.target.system) if self._connections else None
        target = self._flows.cache.target(deployed, registry=registry)
        target.send(
            Outbound(flow.id, request.idempotency_key, mapped.payload, timeout_s=flow.delivery.timeout_s)
        )
        return dict(mapped.payload)


__all__ = ["FlowNotDeployed", "FlowRejected", "FlowServiceInvoker"]
