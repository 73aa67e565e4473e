"""Use cases of BPMN process models: save drafts, deploy versions, read, compare, validate.

Deploying is a state change (permission ``model:deploy``, one audit record ``model.deploy`` per
process deployed); saving a draft needs ``model:write`` (audit ``model.save_draft``); reading needs
``model:read``. Versions never change once stored, so a parsed :class:`~isthmus.models.BpmnModel`
is cached per (key, version): the engine asks :meth:`ModelService.load` on every step and never
parses the XML twice.
"""

from __future__ import annotations

import builtins
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from isthmus.errors import InvalidInput, Location, NotFound
from isthmus.models import (
    BpmnModel,
    DeployedProcess,
    ModelProblem,
    ProcessDiff,
    ProcessSpec,
    diff_processes,
    parse_bpmn,
    prepare_deployment,
    prepare_draft,
    validate,
)
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

OBJECT = "process_definition"
MODEL_CACHE_SIZE = 128


@dataclass(frozen=True, slots=True)
class LoadedProcess:
    """A stored version with its parsed model: what the engine runs."""

    definition: DeployedProcess
    model: BpmnModel

    @property
    def spec(self) -> ProcessSpec:
        """The process of this definition (``key`` is its process id)."""
        return self.model.process(self.definition.key)


@dataclass(frozen=True, slots=True)
class Deployment:
    """What one deploy call stored: one definition per executable process, and the warnings."""

    processes: tuple[DeployedProcess, ...]
    warnings: tuple[ModelProblem, ...] = ()
    unchanged: bool = False

    @property
    def main(self) -> DeployedProcess:
        return self.processes[0]

    def as_dict(self) -> dict[str, Any]:
        main = self.main
        return {
            "key": main.key,
            "version": main.version,
            "hash": main.content_hash,
            "unchanged": self.unchanged,
            "processes": [
                {"key": p.key, "version": p.version, "hash": p.content_hash, "name": p.name}
                for p in self.processes
            ],
            "warnings": [w.as_dict() for w in self.warnings],
        }


class ModelCache:
    """A small thread-safe LRU of parsed models keyed by (key, version)."""

    def __init__(self, size: int = MODEL_CACHE_SIZE) -> None:
        self._size = size
        self._models: OrderedDict[tuple[str, int], BpmnModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, definition: DeployedProcess) -> BpmnModel:
        """The parsed model of ``definition``, parsed once per (key, version)."""
        slot = (definition.key, definition.version)
        with self._lock:
            model = self._models.get(slot)
            if model is not None:
                self._models.move_to_end(slot)
                return model
        model = parse_bpmn(definition.content, source=f"{definition.key} v{definition.version}")
        self.put(definition, model)
        return model

    def put(self, definition: DeployedProcess, model: BpmnModel) -> None:
        with self._lock:
            self._models[(definition.key, definition.version)] = model
            self._models.move_to_end((definition.key, definition.version))
            while len(self._models) > self._size:
                self._models.popitem(last=False)

    def __len__(self) -> int:
        return len(self._models)


class ModelService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, *, cache_size: int = MODEL_CACHE_SIZE
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self.cache = ModelCache(cache_size)

    def validate(
        self, principal: Principal, content: bytes, filename: str = "model.bpmn"
    ) -> list[ModelProblem]:
        """Every problem of ``content`` (errors and warnings); nothing is stored."""
        principal.require("model:read")
        return validate(parse_bpmn(content, source=filename))

    def deploy(self, principal: Principal, content: bytes, filename: str) -> Deployment:
        """Store every executable process of ``content`` as the next version of its key.

        A process whose content hash equals its latest deployed version is not stored again: that
        version is returned (``unchanged`` when no process changed). Raises ``InvalidModel`` with
        every problem when validation finds errors; nothing is stored then.
        """
        principal.require("model:deploy")
        drafts, model, problems = prepare_deployment(content, filename)
        deployment_id = str(uuid.uuid4())
        stored: list[DeployedProcess] = []
        changed = False
        with self._uow() as uow:
            for draft in drafts:
                latest = uow.process_definitions.latest(draft.key)
                if latest is not None and latest.content_hash == draft.content_hash:
                    stored.append(latest)
                    continue
                now = self._clock.now()
                added = uow.process_definitions.add(
                    draft, deployment_id=deployment_id, deployed_by=principal.actor, now=now
                )
                self._audit(uow, principal, "model.deploy", added, filename)
                stored.append(added)
                changed = True
            uow.commit()
        for definition in stored:
            self.cache.put(definition, model)
        return Deployment(tuple(stored), tuple(p for p in problems if not p.is_error), unchanged=not changed)

    def save_draft(
        self, principal: Principal, content: bytes, filename: str
    ) -> tuple[DeployedProcess, list[ModelProblem]]:
        """Store ``content`` as a new draft version of its main process (it must parse, need not
        be valid); returns the version and the problems deploying it would meet."""
        principal.require("model:write")
        draft, model, problems = prepare_draft(content, filename)
        with self._uow() as uow:
            latest = uow.process_definitions.latest(draft.key, include_drafts=True)
            if latest is not None and latest.draft and latest.content_hash == draft.content_hash:
                return latest, problems
            added = uow.process_definitions.add(
                draft, deployment_id=str(uuid.uuid4()), deployed_by=principal.actor, now=self._clock.now()
            )
            self._audit(uow, principal, "model.save_draft", added, filename)
            uow.commit()
        self.cache.put(added, model)
        return added, problems

    def list(self, principal: Principal, *, include_drafts: bool = False) -> list[DeployedProcess]:
        """The latest version of every key, by key."""
        principal.require("model:read")
        with self._uow() as uow:
            return uow.process_definitions.list_latest(include_drafts=include_drafts)

    def versions(self, principal: Principal, key: str) -> builtins.list[DeployedProcess]:
        """Every version of ``key`` (drafts included), oldest first; ``NotFound`` for an unknown key."""
        principal.require("model:read")
        with self._uow() as uow:
            found = uow.process_definitions.versions(key)
        if not found:
            raise NotFound("no process definition with key {key}", key=key)
        return found

    def get(self, principal: Principal, key: str, version: int | None = None) -> DeployedProcess:
        """Version ``version`` of ``key`` (the latest deployed one when None)."""
        principal.require("model:read")
        with self._uow() as uow:
            return _definition(uow, key, version)

    def load(self, key: str, version: int | None = None) -> LoadedProcess:
        """For the engine (no permission check: it acts for whoever started the instance): the
        definition and its parsed model, from the cache after the first call. ``version=None`` is
        the latest deployed version; drafts are never loaded that way."""
        with self._uow() as uow:
            definition = _definition(uow, key, version)
        return LoadedProcess(definition, self.cache.get(definition))

    def model(self, definition: DeployedProcess) -> BpmnModel:
        """The parsed model of a definition already read (e.g. inside the engine's own unit of work)."""
        return self.cache.get(definition)

    def diff(self, principal: Principal, key: str, v1: int, v2: int) -> ProcessDiff:
        """Nodes and flows added, removed and changed from version ``v1`` to version ``v2``."""
        principal.require("model:read")
        with self._uow() as uow:
            before, after = _definition(uow, key, v1), _definition(uow, key, v2)
        return diff_processes(self._spec(before), self._spec(after))

    def _spec(self, definition: DeployedProcess) -> ProcessSpec:
        model = self.cache.get(definition)
        try:
            return model.process(definition.key)
        except NotFound:  # a draft whose main process was renamed since: compare its first process
            if not model.processes:
                raise InvalidInput(
                    "version {version} of {key} has no process",
                    location=Location(file=definition.filename),
                    key=definition.key,
                    version=definition.version,
                ) from None
            return model.processes[0]

    def _audit(
        self, uow: UnitOfWork, principal: Principal, action: str, stored: DeployedProcess, filename: str
    ) -> None:
        after = {k: v for k, v in stored.summary().items() if k != "deployed_at"} | {"file": filename}
        audit.record(
            uow, self._clock, principal, action, OBJECT, f"{stored.key}:{stored.version}", after=after
        )


def _definition(uow: UnitOfWork, key: str, version: int | None) -> DeployedProcess:
    if version is None:
        found = uow.process_definitions.latest(key)
        if found is None:
            raise NotFound("no deployed process definition with key {key}", key=key)
        return found
    found = uow.process_definitions.get(key, version)
    if found is None:
        raise NotFound("no version {version} of process definition {key}", key=key, version=version)
    return found
