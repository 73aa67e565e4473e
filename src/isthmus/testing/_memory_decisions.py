"""An in-memory :class:`~isthmus.services.ports.DecisionModelRepository`, for tests and embedding.

Versions are kept as tuples and replaced, never appended in place, so a transaction's shallow copy
of the dict (``Tables.copy``) is enough to roll an ``add`` back.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from isthmus.decisions import DeployedModel, ModelDraft

DecisionModelRows = dict[str, tuple[DeployedModel, ...]]


class InMemoryDecisionModelRepository:
    """Versions per key (``key -> (v1, v2, …)``) with the port's contract, no SQL.

    Example:
        >>> repo = InMemoryDecisionModelRepository()
        >>> repo.list_latest()
        []
    """

    def __init__(self, rows: DecisionModelRows | None = None) -> None:
        self._rows: DecisionModelRows = {} if rows is None else rows

    def add(self, draft: ModelDraft, *, deployed_by: str, now: datetime) -> DeployedModel:
        latest = self.latest(draft.key)
        if latest is not None and latest.content_hash == draft.content_hash:
            return latest
        fields = {f.name: getattr(draft, f.name) for f in dataclasses.fields(draft)}
        version = 1 if latest is None else latest.version + 1
        stored = DeployedModel(**fields, version=version, deployed_at=now, deployed_by=deployed_by)
        self._rows[draft.key] = (*self._rows.get(draft.key, ()), stored)
        return stored

    def latest(self, key: str) -> DeployedModel | None:
        found = self._rows.get(key)
        return found[-1] if found else None

    def get(self, key: str, version: int) -> DeployedModel | None:
        return next((m for m in self._rows.get(key, ()) if m.version == version), None)

    def versions(self, key: str) -> list[DeployedModel]:
        return list(self._rows.get(key, ()))

    def list_latest(self) -> list[DeployedModel]:
        return [self._rows[key][-1] for key in sorted(self._rows) if self._rows[key]]
