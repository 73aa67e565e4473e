"""Use cases of deployed decisions: deploy a DMN file as a new version, read the versions, evaluate.

Deploying is a state change (permission ``decision:write``, one audit record ``decision.deploy``);
evaluating is not (``decision:evaluate``, no audit record). Versions never change once stored, so a
compiled :class:`~isthmus.decisions.DecisionEngine` is cached per (key, version) and evaluation never
parses the XML again.
"""

from __future__ import annotations

import builtins
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from isthmus.decisions import (
    DecisionEngine,
    DecisionKind,
    DeployedModel,
    evaluate,
    invoke_decision_service,
    parse_dmn,
    prepare_model,
    to_json_value,
)
from isthmus.errors import NotFound
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

OBJECT = "decision_model"
ENGINE_CACHE_SIZE = 64


class EngineCache:
    """A small thread-safe LRU of compiled engines keyed by (key, version)."""

    def __init__(self, size: int = ENGINE_CACHE_SIZE) -> None:
        self._size = size
        self._engines: OrderedDict[tuple[str, int], DecisionEngine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: DeployedModel) -> DecisionEngine:
        slot = (model.key, model.version)
        with self._lock:
            engine = self._engines.get(slot)
            if engine is not None:
                self._engines.move_to_end(slot)
                return engine
        engine = DecisionEngine([parse_dmn(model.content, source=f"{model.key} v{model.version}")])
        self.put(model, engine)
        return engine

    def put(self, model: DeployedModel, engine: DecisionEngine) -> None:
        with self._lock:
            self._engines[(model.key, model.version)] = engine
            self._engines.move_to_end((model.key, model.version))
            while len(self._engines) > self._size:
                self._engines.popitem(last=False)

    def __len__(self) -> int:
        return len(self._engines)


class DecisionService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, *, cache_size: int = ENGINE_CACHE_SIZE
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self.engines = EngineCache(cache_size)

    def deploy(self, principal: Principal, content: bytes, filename: str) -> DeployedModel:
        """Store ``content`` as the next version of its key; the same content as the latest version
        returns that version (no new version, no audit record).

        Raises ``InvalidInput``/``SyntaxProblem`` (with the line) for a model that cannot run;
        nothing is stored then.
        """
        principal.require("decision:write")
        draft, engine = prepare_model(content, filename)
        with self._uow() as uow:
            latest = uow.decision_models.latest(draft.key)
            if latest is not None and latest.content_hash == draft.content_hash:
                return latest
            stored = uow.decision_models.add(draft, deployed_by=principal.actor, now=self._clock.now())
            after = {k: v for k, v in stored.summary().items() if k != "deployed_at"} | {"file": filename}
            audit.record(
                uow,
                self._clock,
                principal,
                "decision.deploy",
                OBJECT,
                f"{stored.key}:{stored.version}",
                after=after,
            )
            uow.commit()
        self.engines.put(stored, engine)
        return stored

    def list(self, principal: Principal) -> list[DeployedModel]:
        """The latest version of every deployed model, by key."""
        principal.require("decision:read")
        with self._uow() as uow:
            return uow.decision_models.list_latest()

    def versions(self, principal: Principal, key: str) -> builtins.list[DeployedModel]:
        """Every version of ``key``, oldest first; ``NotFound`` for an unknown key."""
        principal.require("decision:read")
        with self._uow() as uow:
            found = uow.decision_models.versions(key)
        if not found:
            raise NotFound("no decision model with key {key}", key=key)
        return found

    def get(self, principal: Principal, key: str, version: int | None = None) -> DeployedModel:
        """Version ``version`` of ``key`` (the latest when None)."""
        principal.require("decision:read")
        with self._uow() as uow:
            return _model(uow, key, version)

    def evaluate(
        self,
        principal: Principal,
        key: str,
        decision: str,
        inputs: Mapping[str, Any],
        version: int | None = None,
    ) -> dict[str, Any]:
        """Evaluate ``decision`` (a decision or decision service, by name or id) on JSON ``inputs``.

        Returns JSON data: ``decision``, ``decision_id``, ``key``, ``version``, ``result``,
        ``results`` (every decision evaluated), ``warnings`` and ``matched_rules``.
        """
        principal.require("decision:evaluate")
        with self._uow() as uow:
            model = _model(uow, key, version)
        info = model.find(decision)
        if info is None:
            raise NotFound(
                "decision model {key} version {version} has no decision named {decision!r}; it has {known}",
                key=model.key,
                version=model.version,
                decision=decision,
                known=", ".join(d.name for d in model.decisions) or "none",
            )
        engine = self.engines.get(model)
        run = invoke_decision_service if info.kind is DecisionKind.SERVICE else evaluate
        result = run(engine, info.id, inputs)
        return {
            "key": model.key,
            "version": model.version,
            "decision": result.decision_name,
            "decision_id": result.decision_id,
            "result": to_json_value(result.value),
            "results": {name: to_json_value(value) for name, value in result.results.items()},
            "warnings": list(result.warnings),
            "matched_rules": {name: list(rules) for name, rules in result.matched_rules.items()},
        }


def _model(uow: UnitOfWork, key: str, version: int | None) -> DeployedModel:
    if version is None:
        found = uow.decision_models.latest(key)
        if found is None:
            raise NotFound("no decision model with key {key}", key=key)
        return found
    found = uow.decision_models.get(key, version)
    if found is None:
        raise NotFound("no version {version} of decision model {key}", key=key, version=version)
    return found
