"""The XML-RPC connector against the standard library's XML-RPC server on loopback, answering like
Odoo's ``/xmlrpc/2/common`` and ``/xmlrpc/2/object`` (``execute_kw``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from isthmus.adapters.connectors import make_target
from isthmus.adapters.connectors.xmlrpc import XmlRpcConfig, XmlRpcTarget, marshallable
from isthmus.errors import is_retryable
from isthmus.integration import Endpoint, Outbound, TargetRejected, TargetUnavailable
from tests.adapters.connectors.odoo_servers import FakeOdoo, OdooFault, XmlRpcServer


def message(key: str = "SO-1", **payload: Any) -> Outbound:
    return Outbound("f", key, payload or {"partner_id": 3, "client_order_ref": key}, timeout_s=2.0)


@pytest.fixture
def server() -> Iterator[XmlRpcServer]:
    with XmlRpcServer() as running:
        yield running


def odoo(server: XmlRpcServer, **extra: Any) -> XmlRpcTarget:
    options = {
        "url": server.url,
        "auth": "odoo",
        "database": FakeOdoo.DB,
        "username": FakeOdoo.USER,
        "password": FakeOdoo.PASSWORD,
        "model": "sale.order",
        "method": "create",
        "params": "positional",
    } | extra
    return XmlRpcTarget(XmlRpcConfig.from_options(options), 2.0)


def test_odoo_execute_kw_after_one_login(server: XmlRpcServer) -> None:
    target = odoo(server)
    target.send(message("SO-1", partner_id=3, client_order_ref="SO-1", amount_total=Decimal("12.50")))
    target.send(message("SO-2"))
    assert server.odoo.logins == 1
    assert server.odoo.orders["SO-1"] == {"partner_id": 3, "client_order_ref": "SO-1", "amount_total": 12.5}
    target.close()


def test_an_expired_session_logs_in_again(server: XmlRpcServer) -> None:
    target = odoo(server)
    target.send(message("SO-1"))
    server.odoo.expire_sessions()
    target.send(message("SO-2"))
    assert target.logins == 2
    assert sorted(server.odoo.orders) == ["SO-1", "SO-2"]
    target.close()


def test_access_denied_after_a_fresh_login_is_terminal(server: XmlRpcServer) -> None:
    target = odoo(server)
    server.odoo.faults.append(OdooFault("odoo.exceptions.AccessDenied", "Access Denied", 3))
    server.odoo.faults.append(OdooFault("odoo.exceptions.AccessDenied", "Access Denied", 3))
    with pytest.raises(TargetRejected, match="Access Denied"):
        target.send(message())
    assert target.logins == 2  # tried a new session once, then gave up
    target.close()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (OdooFault("odoo.exceptions.ValidationError", "partner_id is required", 2), TargetRejected),
        (OdooFault("odoo.exceptions.AccessError", "not allowed on sale.order", 4), TargetRejected),
        (
            OdooFault("psycopg2.errors.SerializationFailure", "could not serialize access", 1),
            TargetUnavailable,
        ),
    ],
)
def test_faults_decide_retries(server: XmlRpcServer, fault: OdooFault, error: type[Exception]) -> None:
    target = odoo(server)
    server.odoo.faults.append(fault)
    with pytest.raises(error) as caught:
        target.send(message())
    assert is_retryable(caught.value) == (error is TargetUnavailable)
    target.close()


def test_a_python_exception_on_the_server_is_terminal_unless_configured(server: XmlRpcServer) -> None:
    target = odoo(server, method="unlink")  # the emulator raises MissingError for it
    with pytest.raises(TargetRejected, match="MissingError"):
        target.send(message())
    retrying = odoo(server, method="unlink", retry_faults=["MissingError"])
    with pytest.raises(TargetUnavailable):
        retrying.send(message())
    target.close()
    retrying.close()


def test_a_plain_endpoint_takes_the_payload_as_one_struct(server: XmlRpcServer) -> None:
    options = {"url": f"{server.url}/RPC2", "method": "orders.add", "params": "named"}
    target = make_target(Endpoint("ERP", "xmlrpc", options), 2.0)
    target.send(message("SO-1", vbeln="SO-1", erdat=date(2024, 7, 1), note=None))
    assert server.plain == [{"vbeln": "SO-1", "erdat": "2024-07-01", "note": None}]
    target.close()


def test_unknown_methods_and_status_codes() -> None:
    with XmlRpcServer() as server:
        target = XmlRpcTarget(XmlRpcConfig(url=f"{server.url}/RPC2", method="nope", params="positional"), 2.0)
        with pytest.raises(TargetRejected, match="nope"):
            target.send(message())
        wrong_path = XmlRpcTarget(XmlRpcConfig(url=f"{server.url}/elsewhere", method="x"), 2.0)
        with pytest.raises(TargetRejected, match="404"):
            wrong_path.send(message())
        target.close()
        wrong_path.close()
    with pytest.raises(TargetUnavailable):
        XmlRpcTarget(XmlRpcConfig(url=f"{server.url}/RPC2", method="x"), 0.5).send(message())


def test_values_xml_rpc_cannot_carry_are_terminal(server: XmlRpcServer) -> None:
    target = XmlRpcTarget(XmlRpcConfig(url=f"{server.url}/RPC2", method="orders.add", allow_none=False), 2.0)
    with pytest.raises(TargetRejected, match="cannot send"):
        target.send(message("SO-1", note=None))
    with pytest.raises(TargetRejected, match="cannot send"):
        target.send(message("SO-1", big=2**40))
    target.close()


def test_marshallable() -> None:
    assert marshallable({"a": [Decimal("1.5"), date(2024, 1, 2)], 1: "x"}) == {
        "a": [1.5, "2024-01-02"],
        "1": "x",
    }


def test_ping_reports_the_login(server: XmlRpcServer) -> None:
    assert "logged in as isthmus" in odoo(server).ping()


def test_ping_of_a_plain_endpoint_probes_it(server: XmlRpcServer) -> None:
    target = XmlRpcTarget(XmlRpcConfig(url=f"{server.url}/RPC2", method="orders.add"), 2.0)
    assert "the endpoint answered" in target.ping()
    wrong = XmlRpcTarget(XmlRpcConfig(url=f"{server.url}/nowhere", method="orders.add"), 2.0)
    with pytest.raises(TargetRejected, match="404"):
        wrong.ping()
