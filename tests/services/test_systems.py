"""The systems registry: credentials sealed at rest, never listed or audited, used by deliveries, rotated."""

from __future__ import annotations

import json

import pytest

from isthmus.bootstrap import Container
from isthmus.demo.integration import SandboxApi
from isthmus.errors import ConfigurationError
from isthmus.integration import MessageState, SystemKind
from isthmus.security import SYSTEM
from isthmus.services.systems import SystemService
from isthmus.settings import Secret
from isthmus.testing import FakeClock, InMemoryStore, memory_uow_factory

SECRET = "s3cret"


def test_credentials_are_sealed_and_never_shown(container: Container) -> None:
    container.systems.register(
        SYSTEM,
        "ERP",
        SystemKind.ERP,
        owner="王*",
        settings={"url": "http://erp"},
        credentials={"password": SECRET},
    )
    with container.database.unit_of_work() as uow:
        stored = uow.systems.get("ERP")
    assert stored is not None
    assert stored.envelope is not None
    assert SECRET not in json.dumps(stored.envelope)
    (listed,) = container.systems.list(SYSTEM)
    assert listed.as_dict()["credentials"] == "set"
    assert SECRET not in json.dumps(listed.as_dict())
    records, _ = container.audit.search(SYSTEM, action="system.register")
    assert SECRET not in json.dumps([r.as_dict() for r in records])
    with container.database.unit_of_work() as uow:
        assert container.systems.connection(uow, "ERP") == {"url": "http://erp", "password": SECRET}


def test_deliveries_use_the_registrys_credentials(container: Container, clock: FakeClock) -> None:
    with SandboxApi() as api:
        container.systems.register(
            SYSTEM,
            "ERP",
            SystemKind.ERP,
            settings={"auth": "oauth2", "token_url": f"{api.url}/oauth/token", "client_id": "isthmus"},
            credentials={"client_secret": SECRET},
        )
        container.flows.deploy(
            SYSTEM,
            "flow: f\nsource: {system: CRM, connector: webhook}\n"
            f"target: {{system: ERP, connector: http, options: {{url: '{api.url}/api/orders'}}}}\n"
            "mapping: {vbeln: order_id}\nidempotency_key: order_id\n",
        )
        container.flows.accept(SYSTEM, "f", [{"order_id": "SO-1"}])
        container.job_runner().run_until_idle()
        (message,) = container.flows.messages(SYSTEM)
        assert message.state is MessageState.DELIVERED
        assert api.tokens_issued == 1


def test_rotation_rewraps_under_the_new_key() -> None:
    factory, clock = memory_uow_factory(InMemoryStore()), FakeClock()
    old, new = Secret("o" * 40), Secret("n" * 40)
    SystemService(factory, clock, old).register(SYSTEM, "HR", SystemKind.HR, credentials={"token": "t"})
    current = SystemService(factory, clock, new)
    with factory() as uow, pytest.raises(ConfigurationError, match="rotate-key"):
        current.connection(uow, "HR")
    assert current.rotate(SYSTEM, old) == 1
    with factory() as uow:
        assert current.connection(uow, "HR") == {"token": "t"}
    (listed,) = current.list(SYSTEM)
    assert listed.as_dict()["key_id"] == current.key_id
