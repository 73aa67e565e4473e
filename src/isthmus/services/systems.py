"""The systems registry: register a system with its connection settings and sealed credentials,
list them (never the credentials), test a connection, rotate the master key. Audited; credentials
never in the trail.

Settings are stored and shown in clear, so a secret is refused there (a ``password`` setting, a URL
with a password in it) with a pointer to the credentials, which are sealed. The reserved setting
``connector`` names the connector kind the "test connection" button uses; it is not passed on to
flows.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from isthmus.errors import Conflict, InvalidInput, IsthmusError, Location, NotFound
from isthmus.integration import MasterKey, System, SystemKind, open_envelope, rewrap, seal
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from isthmus.settings import Secret

OBJECT = "system"
CONNECTOR_SETTING = "connector"
_SECRET_NAME = re.compile(
    r"pass(word|wd)?$|secret|(^|_)(api_?key|access_token|refresh_token|private_key)$", re.I
)
_NAME = re.compile(r"^[^\s/][^/]{0,99}$")
Pinger = Callable[[str, dict[str, Any], float], str]
"""``(connector kind, options, timeout) → what answered``; raises ``IsthmusError`` when it fails."""


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The outcome of "test connection": never carries a credential."""

    system: str
    connector: str
    ok: bool
    detail: str
    elapsed_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "connector": self.connector,
            "ok": self.ok,
            "detail": self.detail,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def check_settings(settings: dict[str, Any]) -> None:
    """Refuse secrets in the clear-text settings, naming the setting."""
    for key, value in settings.items():
        if _SECRET_NAME.search(key):
            raise InvalidInput(
                "a secret belongs in the credentials (sealed), not in the settings",
                location=Location(field=f"settings.{key}"),
            )
        if isinstance(value, str) and "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                raise InvalidInput(
                    "the URL carries a password; put it in the credentials",
                    location=Location(field=f"settings.{key}"),
                )


def _scrub(text: str, secrets: dict[str, Any]) -> str:
    """A connector's message with any credential value in it blanked (a URL may echo one)."""
    for value in secrets.values():
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, "***")
    return text


class SystemService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, secret_key: Secret, pinger: Pinger | None = None
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._key = MasterKey(secret_key.reveal())
        self._pinger = pinger

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
        create: bool | None = None,
    ) -> System:
        """Add or replace ``name``; ``credentials`` are sealed before they reach storage.

        ``credentials=None`` keeps those already set (an empty mapping removes them). ``create``:
        True refuses an existing name (``Conflict``), False a missing one (``NotFound``), None
        takes either."""
        principal.require("system:write")
        if not _NAME.match(name) or name != name.strip():
            raise InvalidInput(
                "expected 1-100 characters, no '/' and no surrounding spaces", location=Location(field="name")
            )
        check_settings(dict(settings or {}))
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
            if create is True and before is not None:
                raise Conflict("a system named {name} exists", name=name)
            if create is False and before is None:
                raise NotFound("no system named {name}", name=name)
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

    def get(self, principal: Principal, name: str) -> System:
        principal.require("system:read")
        with self._uow() as uow:
            return self._get(uow, name)

    @staticmethod
    def _get(uow: UnitOfWork, name: str) -> System:
        found = uow.systems.get(name)
        if found is None:
            raise NotFound("no system named {name}", name=name)
        return found

    def delete(self, principal: Principal, name: str) -> None:
        """Remove a system and its sealed credentials (flows naming it keep their own options)."""
        principal.require("system:write")
        with self._uow() as uow:
            before = self._get(uow, name)
            uow.systems.delete(name)
            audit.record(uow, self._clock, principal, "system.delete", OBJECT, name, before=before.as_dict())
            uow.commit()

    def connection(self, uow: UnitOfWork, name: str) -> dict[str, Any]:
        """Settings and opened credentials of ``name`` for a connector (empty for an unknown system).
        For use inside a delivery's unit of work only; never returned to a person."""
        system = uow.systems.get(name)
        if system is None:
            return {}
        opened = open_envelope(system.envelope, name, {self._key.kid: self._key}) if system.envelope else {}
        settings = {k: v for k, v in system.settings.items() if k != CONNECTOR_SETTING}
        return settings | opened

    def options_for(self, name: str) -> dict[str, Any]:
        """As :meth:`connection`, in a unit of work of its own: for a connector pulling from ``name``
        (a flow's source). Never returned to a person."""
        with self._uow() as uow:
            return self.connection(uow, name)

    def test_connection(self, principal: Principal, name: str, *, timeout_s: float = 10.0) -> ConnectionCheck:
        """Ask the system's connector to reach it (log in, load the WSDL, ``SELECT 1`` …).

        A failure is an outcome, not an error: ``ok`` False with the connector's message, any
        credential value blanked out of it."""
        principal.require("system:write")  # it uses the credentials against the real system
        with self._uow() as uow:
            system = self._get(uow, name)
            options = self.connection(uow, name)
        kind = str(system.settings.get(CONNECTOR_SETTING, ""))
        if not kind:
            raise InvalidInput(
                "set the connector kind (http, jsonrpc, xmlrpc, soap, sql, files) to test the connection",
                location=Location(field="settings.connector"),
            )
        if self._pinger is None:
            raise InvalidInput("no connector is wired to test connections")
        secrets = {k: v for k, v in options.items() if k not in system.settings}
        started = time.perf_counter()
        try:
            detail, ok = self._pinger(kind, options, timeout_s), True
        except IsthmusError as error:
            detail, ok = error.message, False
        except Exception as error:  # a connector bug or an unexpected library error: still an answer
            detail, ok = f"{type(error).__name__}: {error}", False
        elapsed = (time.perf_counter() - started) * 1000
        return ConnectionCheck(name, kind, ok, _scrub(detail, secrets)[:500], elapsed)

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
