"""The systems registry: register a system with its connection settings and sealed credentials,
list them (never the credentials), rotate the master key. Audited; credentials never in the trail."""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import Any

from isthmus.errors import InvalidInput
from isthmus.integration import MasterKey, System, SystemKind, open_envelope, rewrap, seal
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from isthmus.settings import Secret

OBJECT = "system"


class SystemService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, secret_key: Secret) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._key = MasterKey(secret_key.reveal())

    @property
    def key_id(self) -> str:
        return self._key.kid

    def register(
        self,
        principal: Principal,
        name: str,
        kind: SystemKind,
        *,
        owner: str = "",
        settings: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
    ) -> System:
        """Add or replace ``name``; ``credentials`` are sealed before they reach storage."""
        principal.require("system:write")
        if not name.strip() or len(name) > 100:
            raise InvalidInput("name: expected 1-100 characters", field="name")
        now = self._clock.now()
        envelope = seal(credentials, name, self._key) if credentials else None
        system = System(
            name=name,
            kind=kind,
            owner=owner,
            settings=dict(settings or {}),
            envelope=envelope,
            created_at=now,
            updated_at=now,
        )
        with self._uow() as uow:
            before = uow.systems.get(name)
            if before is not None and credentials is None:
                system = replace(system, envelope=before.envelope)  # keep the credentials already set
            uow.systems.put(system, now)
            audit.record(
                uow,
                self._clock,
                principal,
                "system.register",
                OBJECT,
                name,
                before=before.as_dict() if before else None,
                after=system.as_dict(),
            )
            uow.commit()
        return system

    def list(self, principal: Principal) -> builtins.list[System]:
        principal.require("system:read")
        with self._uow() as uow:
            return uow.systems.list()

    def connection(self, uow: UnitOfWork, name: str) -> dict[str, Any]:
        """Settings and opened credentials of ``name`` for a connector (empty for an unknown system).
        For use inside a delivery's unit of work only; never returned to a person."""
        system = uow.systems.get(name)
        if system is None:
            return {}
        opened = open_envelope(system.envelope, name, {self._key.kid: self._key}) if system.envelope else {}
        return system.settings | opened

    def rotate(self, principal: Principal, old_secret: Secret) -> int:
        """Re-wrap every envelope sealed with ``old_secret`` under the current key; returns how many."""
        principal.require("system:write")
        old = MasterKey(old_secret.reveal())
        count = 0
        with self._uow() as uow:
            now = self._clock.now()
            for system in uow.systems.list():
                if system.envelope and system.envelope["kid"] == old.kid:
                    uow.systems.put(replace(system, envelope=rewrap(system.envelope, old, self._key)), now)
                    count += 1
            audit.record(
                uow,
                self._clock,
                principal,
                "system.rotate_key",
                OBJECT,
                "*",
                after={"from": old.kid, "to": self._key.kid, "systems": count},
            )
            uow.commit()
        return count
