"""The engine's adapters to the rest of Isthmus: deployed processes (``isthmus.models``
deployments) and deployed decisions (business-rule tasks), and one function that wires the
engine's services for the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from isthmus.decisions import DecisionKind, DeployedModel, evaluate, invoke_decision_service, to_json_value
from isthmus.engine import EngineIncident
from isthmus.services.decisions import EngineCache
from isthmus.services.engine import EngineService
from isthmus.services.engine_steps import Definitions, Stepper
from isthmus.services.inbox import TaskService
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from isthmus.services.service_tasks import FlowInvoker, ServiceHandlers


class DeployedProcesses:
    """The :class:`~isthmus.services.engine_steps.ProcessSource` on ``uow.process_definitions``."""

    def latest(self, uow: UnitOfWork, key: str) -> tuple[int, bytes] | None:
        found = uow.process_definitions.latest(key)
        return (found.version, found.content) if found is not None else None

    def get(self, uow: UnitOfWork, key: str, version: int) -> bytes | None:
        found = uow.process_definitions.get(key, version)
        return found.content if found is not None and not found.draft else None


class DeployedDecisions:
    """Business-rule tasks evaluate the latest deployed decision named by the task: ``decisionId``
    (a decision id or name, in any deployed model) or ``key:decision``."""

    def __init__(self, uow: UnitOfWork, engines: EngineCache, homes: dict[str, str] | None = None) -> None:
        self._uow = uow
        self._engines = engines
        # decision ref → the key of the model that held it last time: one lookup instead of a scan
        self._homes = homes if homes is not None else {}
        self._found: dict[str, tuple[DeployedModel, str]] = {}  # this unit of work's lookups

    def _find(self, ref: str) -> tuple[DeployedModel, str]:
        found = self._found.get(ref)
        if found is None:
            found = self._found[ref] = self._look_up(ref)
        return found

    def _look_up(self, ref: str) -> tuple[DeployedModel, str]:
        key, _, decision = ref.partition(":")
        if decision:
            model = self._uow.decision_models.latest(key)
            if model is not None and model.find(decision) is not None:
                return model, decision
        home = self._homes.get(ref)
        if home is not None:
            model = self._uow.decision_models.latest(home)
            if model is not None and model.find(ref) is not None:
                return model, ref
        for model in self._uow.decision_models.list_latest():
            if model.find(ref) is not None:
                self._homes[ref] = model.key
                return model, ref
        raise EngineIncident("no deployed decision {ref}", ref=ref)

    def decide(self, decision_ref: str, variables: Mapping[str, Any]) -> Any:
        model, decision = self._find(decision_ref)
        info = model.find(decision)
        assert info is not None
        engine = self._engines.get(model)
        run = invoke_decision_service if info.kind is DecisionKind.SERVICE else evaluate
        return to_json_value(run(engine, info.id, variables).value)


def wire_engine(
    uow: UnitOfWorkFactory,
    clock: Clock,
    data_dir: Path,
    handlers: ServiceHandlers | None = None,
    flows: FlowInvoker | None = None,
) -> tuple[EngineService, TaskService]:
    """The engine and inbox services on the deployed processes and decisions of the database."""
    engines = EngineCache()
    homes: dict[str, str] = {}
    stepper = Stepper(Definitions(DeployedProcesses()), clock, lambda u: DeployedDecisions(u, engines, homes))
    handlers = handlers or ServiceHandlers(flows)
    from isthmus.demo.service_handlers import register_demo_handlers

    register_demo_handlers(handlers)
    return EngineService(uow, clock, stepper, handlers), TaskService(uow, clock, stepper, data_dir / "files")
