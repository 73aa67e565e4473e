"""The systems registry on SQL."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from isthmus.adapters.storage.tables import systems
from isthmus.integration import System, SystemKind

_s = systems


def _system(row: Any) -> System:
    return System(
        name=row.name,
        kind=SystemKind(row.kind),
        owner=row.owner,
        settings=row.settings,
        envelope=row.credentials,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlSystemRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, name: str) -> System | None:
        row = self._db.execute(select(_s).where(_s.c.name == name)).first()
        return None if row is None else _system(row)

    def put(self, system: System, now: datetime) -> None:
        values = {
            "kind": system.kind.value,
            "owner": system.owner,
            "settings": system.settings,
            "credentials": system.envelope,
            "updated_at": now,
        }
        if self.get(system.name) is None:
            self._db.execute(insert(_s).values(name=system.name, created_at=now, **values))
        else:
            self._db.execute(update(_s).where(_s.c.name == system.name).values(**values))

    def list(self) -> builtins.list[System]:
        return [_system(r) for r in self._db.execute(select(_s).order_by(_s.c.name))]

    def delete(self, name: str) -> bool:
        return self._db.execute(delete(_s).where(_s.c.name == name)).rowcount > 0
