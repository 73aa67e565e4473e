"""An in-memory :class:`~isthmus.services.ports.ProcessDefinitionRepository`, for tests and embedding.

Versions are kept as tuples and replaced, never appended in place, so a transaction's shallow copy
of the dict (``Tables.copy``) is enough to roll an ``add`` back.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from isthmus.models import DeployedProcess, ProcessDraft

ProcessDefinitionRows = dict[str, tuple[DeployedProcess, ...]]


class InMemoryProcessDefinitionRepository:
    """Versions per key (``key -> (v1, v2, …)``) with the port's contract, no SQL.

    Example:
        >>> repo = InMemoryProcessDefinitionRepository()
        >>> repo.list_latest()
        []
    """

    def __init__(self, rows: ProcessDefinitionRows | None = None) -> None:
        self._rows: ProcessDefinitionRows = {} if rows is None else rows

    def add(
        self, draft: ProcessDraft, *, deployment_id: str, deployed_by: str, now: datetime
    ) -> DeployedProcess:
        if now.tzinfo is None:
            raise ValueError("naive datetime given to the database; Isthmus stores UTC only")
        existing = self._rows.get(draft.key, ())
        fields = {f.name: getattr(draft, f.name) for f in dataclasses.fields(draft)}
        stored = DeployedProcess(
            **fields,
            version=existing[-1].version + 1 if existing else 1,
            deployment_id=deployment_id,
            deployed_at=now,
            deployed_by=deployed_by,
        )
        self._rows[draft.key] = (*existing, stored)
        return stored

    def latest(self, key: str, *, include_drafts: bool = False) -> DeployedProcess | None:
        found = [p for p in self._rows.get(key, ()) if include_drafts or not p.draft]
        return found[-1] if found else None

    def get(self, key: str, version: int) -> DeployedProcess | None:
        return next((p for p in self._rows.get(key, ()) if p.version == version), None)

    def versions(self, key: str) -> list[DeployedProcess]:
        return list(self._rows.get(key, ()))

    def list_latest(self, *, include_drafts: bool = False) -> list[DeployedProcess]:
        found = (self.latest(key, include_drafts=include_drafts) for key in sorted(self._rows))
        return [p for p in found if p is not None]
