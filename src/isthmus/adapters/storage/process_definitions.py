"""BPMN process definitions on SQL: one row per (key, version), never updated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.tables import process_definitions
from isthmus.errors import Conflict
from isthmus.models import DeployedProcess, ProcessDraft

_t = process_definitions


def _from_row(row: Any) -> DeployedProcess:
    return DeployedProcess(
        key=row.key,
        version=row.version,
        name=row.name,
        content=bytes(row.content),
        content_hash=row.content_hash,
        filename=row.filename,
        deployment_id=row.deployment_id,
        deployed_at=row.deployed_at,
        deployed_by=row.deployed_by,
        draft=row.draft,
    )


class SqlProcessDefinitionRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(
        self, draft: ProcessDraft, *, deployment_id: str, deployed_by: str, now: datetime
    ) -> DeployedProcess:
        newest = self._db.execute(select(func.max(_t.c.version)).where(_t.c.key == draft.key)).scalar()
        version = 1 if newest is None else int(newest) + 1
        values = {
            "key": draft.key,
            "version": version,
            "name": draft.name,
            "content": draft.content,
            "content_hash": draft.content_hash,
            "filename": draft.filename,
            "deployment_id": deployment_id,
            "deployed_at": now,
            "deployed_by": deployed_by,
            "draft": draft.draft,
        }
        try:
            with self._db.begin_nested():
                self._db.execute(insert(_t).values(**values))
        except IntegrityError as exc:  # another deployment of the same key committed first
            raise Conflict(
                "process {key} version {version} was deployed concurrently; retry",
                key=draft.key,
                version=version,
            ) from exc
        stored = self.get(draft.key, version)
        assert stored is not None
        return stored

    def latest(self, key: str, *, include_drafts: bool = False) -> DeployedProcess | None:
        query = select(_t).where(_t.c.key == key)
        if not include_drafts:
            query = query.where(_t.c.draft.is_(False))
        row = self._db.execute(query.order_by(_t.c.version.desc()).limit(1)).first()
        return _from_row(row) if row else None

    def get(self, key: str, version: int) -> DeployedProcess | None:
        row = self._db.execute(select(_t).where(_t.c.key == key, _t.c.version == version)).first()
        return _from_row(row) if row else None

    def versions(self, key: str) -> list[DeployedProcess]:
        rows = self._db.execute(select(_t).where(_t.c.key == key).order_by(_t.c.version.asc())).all()
        return [_from_row(r) for r in rows]

    def list_latest(self, *, include_drafts: bool = False) -> list[DeployedProcess]:
        newest = select(_t.c.key, func.max(_t.c.version).label("version"))
        if not include_drafts:
            newest = newest.where(_t.c.draft.is_(False))
        latest = newest.group_by(_t.c.key).subquery()
        rows = self._db.execute(
            select(_t)
            .join(latest, (_t.c.key == latest.c.key) & (_t.c.version == latest.c.version))
            .order_by(_t.c.key)
        ).all()
        return [_from_row(r) for r in rows]
