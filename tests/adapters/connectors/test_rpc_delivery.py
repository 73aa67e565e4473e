"""Delivery through the outbox to RPC and SOAP targets on loopback: transient faults are retried with
the flow's backoff, terminal ones dead-lettered at once, a duplicate leaves one record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from isthmus.bootstrap import Container
from isthmus.integration import MessageState, SystemKind
from isthmus.security import SYSTEM
from isthmus.testing import FakeClock
from tests.adapters.connectors.odoo_servers import FakeOdoo, OdooFault, XmlRpcServer
from tests.adapters.connectors.soap_server import SoapServer, soap_server

ODOO_FLOW = """\
flow: crm-odoo
source: {{system: CRM, connector: webhook}}
target:
  system: Odoo
  connector: xmlrpc
  options: {{model: sale.order, method: create, params: positional,
             idempotency_param: client_order_ref, duplicate_faults: [client_order_ref_uniq]}}
trigger: {{webhook: true}}
mapping: {{partner_id: customer}}
idempotency_key: order_id
delivery: {{attempts: 4, backoff: 2s}}
"""

SOAP_FLOW = """\
flow: crm-soap
source: {{system: CRM, connector: webhook}}
target:
  system: ERP
  connector: soap
  options: {{wsdl: "{url}/orders?wsdl", operation: CreateOrder}}
trigger: {{webhook: true}}
mapping: {{vbeln: order_id, kunnr: customer}}
idempotency_key: order_id
"""


def drain(container: Container, clock: FakeClock) -> None:
    runner = container.job_runner("w")
    for _ in range(6):
        runner.run_until_idle()
        clock.advance(minutes=5)


@pytest.fixture
def odoo(container: Container) -> Iterator[XmlRpcServer]:
    with XmlRpcServer() as server:
        container.systems.register(
            SYSTEM,
            "Odoo",
            SystemKind.ERP,
            settings={"url": server.url, "auth": "odoo", "database": FakeOdoo.DB, "username": FakeOdoo.USER},
            credentials={"password": FakeOdoo.PASSWORD},
        )
        container.flows.deploy(SYSTEM, ODOO_FLOW.format())
        yield server


def states(container: Container, flow: str) -> dict[str, tuple[str, int]]:
    found = container.flows.messages(SYSTEM, flow_id=flow, limit=100)
    return {m.idempotency_key: (m.state.value, m.attempts) for m in found}


def test_xml_rpc_transient_faults_are_retried_and_terminal_ones_dead_lettered(
    container: Container, clock: FakeClock, odoo: XmlRpcServer
) -> None:
    busy = OdooFault("psycopg2.errors.SerializationFailure", "could not serialize access")
    odoo.odoo.faults.extend([busy, busy])
    container.flows.accept(SYSTEM, "crm-odoo", [{"order_id": "SO-1", "customer": 7}])
    drain(container, clock)
    container.flows.accept(
        SYSTEM, "crm-odoo", [{"order_id": "SO-2", "customer": None}]
    )  # partner_id required
    drain(container, clock)
    assert states(container, "crm-odoo") == {
        "SO-1": (MessageState.DELIVERED.value, 3),
        "SO-2": (MessageState.DEAD_LETTERED.value, 1),
    }
    assert odoo.odoo.orders == {"SO-1": {"partner_id": 7, "client_order_ref": "SO-1"}}


def test_a_replayed_rpc_message_leaves_one_record(
    container: Container, clock: FakeClock, odoo: XmlRpcServer
) -> None:
    container.flows.accept(SYSTEM, "crm-odoo", [{"order_id": "SO-1", "customer": 7}])
    drain(container, clock)
    [message] = container.flows.messages(SYSTEM, flow_id="crm-odoo")
    with container.database.unit_of_work() as uow:  # as if the answer was lost and it was dead-lettered
        uow.flows.save_message(replace(message, state=MessageState.DEAD_LETTERED))
        uow.commit()
    container.flows.replay(SYSTEM, [message.id])
    drain(container, clock)
    assert states(container, "crm-odoo") == {"SO-1": (MessageState.DELIVERED.value, 1)}
    assert list(odoo.odoo.orders) == ["SO-1"]
    assert odoo.odoo.calls == 2  # the ERP refused the duplicate; the connector counted it delivered


@pytest.fixture
def soap() -> Iterator[SoapServer]:
    with soap_server() as server:
        yield server


def test_soap_server_faults_are_retried_client_faults_dead_lettered(
    container: Container, clock: FakeClock, soap: SoapServer
) -> None:
    container.flows.deploy(SYSTEM, SOAP_FLOW.format(url=soap.url))
    soap.faults_next.append(("Server", "database busy"))
    container.flows.accept(SYSTEM, "crm-soap", [{"order_id": "SO-1", "customer": "C1"}])
    drain(container, clock)
    soap.faults_next.append(("Client", "kunnr C9 unknown"))
    container.flows.accept(SYSTEM, "crm-soap", [{"order_id": "SO-2", "customer": "C9"}])
    drain(container, clock)
    assert states(container, "crm-soap") == {
        "SO-1": (MessageState.DELIVERED.value, 2),
        "SO-2": (MessageState.DEAD_LETTERED.value, 1),
    }
    [delivered] = soap.received
    assert delivered["key"] == "SO-1"
    [dead] = container.flows.messages(SYSTEM, flow_id="crm-soap", states=(MessageState.DEAD_LETTERED,))
    assert "kunnr C9 unknown" in (dead.last_error or "")
