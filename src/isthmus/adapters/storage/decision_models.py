"""Deployed decision models on SQL: one row per (key, version), never updated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.tables import decision_models
from isthmus.decisions import DecisionInfo, DeployedModel, ModelDraft
from isthmus.errors import Conflict

_t = decision_models


def _from_row(row: Any) -> DeployedModel:
    return DeployedModel(
        key=row.key,
        version=row.version,
        name=row.name,
        namespace=row.namespace,
        content=row.content,
        content_hash=row.content_hash,
        decisions=tuple(DecisionInfo.from_dict(d) for d in row.decisions),
        deployed_at=row.deployed_at,
        deployed_by=row.deployed_by,
    )


class SqlDecisionModelRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, draft: ModelDraft, *, deployed_by: str, now: datetime) -> DeployedModel:
        latest = self.latest(draft.key)
        if latest is not None and latest.content_hash == draft.content_hash:
            return latest
        version = 1 if latest is None else latest.version + 1
        values = {
            "key": draft.key,
            "version": version,
            "name": draft.name,
            "namespace": draft.namespace,
            "content": draft.content,
            "content_hash": draft.content_hash,
            "decisions": [d.as_dict() for d in draft.decisions],
            "deployed_at": now,
            "deployed_by": deployed_by,
        }
        try:
            with self._db.begin_nested():
                self._db.execute(insert(_t).values(**values))
        except IntegrityError as exc:  # another deployment of the same key committed first
            raise Conflict(
                "decision model {key} version {version} was deployed concurrently; retry",
                key=draft.key,
                version=version,
            ) from exc
        stored = self.get(draft.key, version)
        assert stored is not None
        return stored

    def latest(self, key: str) -> DeployedModel | None:
        row = self._db.execute(
            select(_t).where(_t.c.key == key).order_by(_t.c.version.desc()).limit(1)
        ).first()
        return _from_row(row) if row else None

    def get(self, key: str, version: int) -> DeployedModel | None:
        row = self._db.execute(select(_t).where(_t.c.key == key, _t.c.version == version)).first()
        return _from_row(row) if row else None

    def versions(self, key: str) -> list[DeployedModel]:
        rows = self._db.execute(select(_t).where(_t.c.key == key).order_by(_t.c.version.asc())).all()
        return [_from_row(r) for r in rows]

    def list_latest(self) -> list[DeployedModel]:
        newest = select(_t.c.key, func.max(_t.c.version).label("version")).group_by(_t.c.key).subquery()
        rows = self._db.execute(
            select(_t)
            .join(newest, (_t.c.key == newest.c.key) & (_t.c.version == newest.c.version))
            .order_by(_t.c.key)
        ).all()
        return [_from_row(r) for r in rows]
