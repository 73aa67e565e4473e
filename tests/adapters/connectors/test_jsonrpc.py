"""The JSON-RPC connector against a real JSON-RPC server on loopback (Odoo's ``/jsonrpc`` and a plain API)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from isthmus.adapters.connectors import make_target
from isthmus.adapters.connectors.jsonrpc import JsonRpcConfig, JsonRpcTarget
from isthmus.errors import ConfigurationError, is_retryable
from isthmus.integration import Endpoint, Outbound, TargetRejected, TargetUnavailable
from tests.adapters.connectors.odoo_servers import FakeOdoo, JsonRpcServer, OdooFault, TrytonServer


def message(key: str = "SO-1", **payload: Any) -> Outbound:
    return Outbound("f", key, payload or {"partner_id": 3, "client_order_ref": key}, timeout_s=2.0)


@pytest.fixture
def server() -> Iterator[JsonRpcServer]:
    with JsonRpcServer() as running:
        yield running


def odoo(server: JsonRpcServer, **extra: Any) -> JsonRpcTarget:
    options = {
        "url": f"{server.url}/jsonrpc",
        "auth": "odoo",
        "database": FakeOdoo.DB,
        "username": FakeOdoo.USER,
        "password": FakeOdoo.PASSWORD,
        "model": "sale.order",
        "method": "create",
        "params": "positional",
    } | extra
    return JsonRpcTarget(JsonRpcConfig.from_options(options), 2.0)


def test_odoo_logs_in_once_and_creates_with_execute_kw(server: JsonRpcServer) -> None:
    target = odoo(server)
    target.send(message("SO-1"))
    target.send(message("SO-2"))
    assert server.odoo.logins == 1
    assert sorted(server.odoo.orders) == ["SO-1", "SO-2"]
    assert server.odoo.orders["SO-1"] == {"partner_id": 3, "client_order_ref": "SO-1"}
    target.close()


def test_an_expired_session_logs_in_again_once(server: JsonRpcServer) -> None:
    target = odoo(server)
    target.send(message("SO-1"))
    server.odoo.expire_sessions()
    target.send(message("SO-2"))
    assert server.odoo.logins == 2
    assert target.logins == 2
    assert "SO-2" in server.odoo.orders
    target.close()


def test_a_refused_login_is_terminal(server: JsonRpcServer) -> None:
    target = odoo(server, password="wrong")
    with pytest.raises(TargetRejected) as caught:
        target.send(message())
    assert not is_retryable(caught.value)
    assert "wrong" not in caught.value.message
    target.close()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (OdooFault("odoo.exceptions.ValidationError", "partner_id is required"), TargetRejected),
        (OdooFault("odoo.exceptions.UserError", "the order is locked"), TargetRejected),
        (OdooFault("psycopg2.errors.SerializationFailure", "could not serialize access"), TargetUnavailable),
        (OdooFault("psycopg2.OperationalError", "server closed the connection"), TargetUnavailable),
    ],
)
def test_odoo_faults_decide_retries(server: JsonRpcServer, fault: OdooFault, error: type[Exception]) -> None:
    target = odoo(server)
    server.odoo.faults.append(fault)
    with pytest.raises(error) as caught:
        target.send(message())
    assert is_retryable(caught.value) == (error is TargetUnavailable)
    target.close()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"code": -32601, "message": "Method not found"}, TargetRejected),
        ({"code": -32602, "message": "Invalid params"}, TargetRejected),
        ({"code": -32603, "message": "Internal error"}, TargetUnavailable),
        ({"code": -32001, "message": "Server busy"}, TargetUnavailable),
        ({"code": 42, "message": "order rejected"}, TargetRejected),
    ],
)
def test_json_rpc_error_codes_decide_retries(
    server: JsonRpcServer, answer: dict[str, Any], error: type[Exception]
) -> None:
    target = plain(server)
    server.errors_next.append(answer)
    with pytest.raises(error):
        target.send(message())
    target.close()


@pytest.mark.parametrize(
    ("status", "error"), [(503, TargetUnavailable), (429, TargetUnavailable), (404, TargetRejected)]
)
def test_http_status_decides_retries(server: JsonRpcServer, status: int, error: type[Exception]) -> None:
    target = plain(server)
    server.status_next.append(status)
    with pytest.raises(error):
        target.send(message())
    target.close()


def test_a_duplicate_fault_on_the_idempotency_field_counts_as_delivered(server: JsonRpcServer) -> None:
    target = odoo(
        server, idempotency_param="client_order_ref", duplicate_faults=["sale_order_client_order_ref_uniq"]
    )
    once = Outbound("f", "SO-9", {"partner_id": 3}, timeout_s=2.0)
    target.send(once)
    target.send(once)  # a retry after a lost answer: the ERP refuses the duplicate, the effect is there
    assert list(server.odoo.orders) == ["SO-9"]
    target.close()


def plain(server: JsonRpcServer, **extra: Any) -> JsonRpcTarget:
    options = {"url": f"{server.url}/rpc", "method": "orders.create"} | extra
    return JsonRpcTarget(JsonRpcConfig.from_options(options), 2.0)


def test_named_and_positional_params(server: JsonRpcServer) -> None:
    named = plain(server)
    named.send(message("SO-1", vbeln="SO-1", kunnr="C1"))
    positional = plain(server, method="orders.add", params="positional", param_order=["vbeln", "kunnr"])
    positional.send(message("SO-2", vbeln="SO-2", kunnr="C2"))
    assert server.plain == [{"vbeln": "SO-1", "kunnr": "C1"}, ["SO-2", "C2"]]
    with pytest.raises(TargetRejected, match="kunnr"):
        positional.send(message("SO-3", vbeln="SO-3"))
    named.close()
    positional.close()


def test_basic_auth() -> None:
    with JsonRpcServer(basic=("isthmus", "pw")) as server:
        good = plain(server, auth="basic", username="isthmus", password="pw")
        good.send(message("SO-1", vbeln="SO-1"))
        bad = plain(server, auth="basic", username="isthmus", password="nope")
        with pytest.raises(TargetRejected, match="401"):
            bad.send(message("SO-2", vbeln="SO-2"))
        assert server.plain == [{"vbeln": "SO-1"}]
        good.close()
        bad.close()


def test_refused_and_silent_servers_are_transient() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections (backlog) and never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/rpc"
        target = JsonRpcTarget(JsonRpcConfig(url=url, method="x"), 0.2)
        with pytest.raises(TargetUnavailable, match="timed out"):
            target.send(Outbound("f", "k", {}, timeout_s=0.2))
        target.close()
    closed = JsonRpcTarget(JsonRpcConfig(url=url, method="x"), 0.2)
    with pytest.raises(TargetUnavailable):
        closed.send(Outbound("f", "k", {}, timeout_s=0.2))
    closed.close()


def test_ping_logs_in_or_calls_the_ping_method(server: JsonRpcServer) -> None:
    assert "uid 7" in odoo(server).ping()
    assert "1.0" in plain(server, ping_method="system.version").ping()
    with pytest.raises(TargetRejected):
        odoo(server, password="wrong").ping()


def test_the_registry_resolves_the_kind_and_names_a_bad_option(server: JsonRpcServer) -> None:
    endpoint = Endpoint("ERP", "jsonrpc", {"url": f"{server.url}/rpc", "method": "orders.create"})
    target = make_target(endpoint, 2.0)
    target.send(message("SO-1", vbeln="SO-1"))
    assert server.plain == [{"vbeln": "SO-1"}]
    target.close()
    with pytest.raises(ConfigurationError, match=r"options\.params"):
        make_target(Endpoint("ERP", "jsonrpc", {"url": "http://x", "method": "m", "params": "both"}), 2.0)
    with pytest.raises(ConfigurationError, match="model"):
        make_target(Endpoint("ERP", "jsonrpc", {"url": "http://x", "method": "create", "auth": "odoo"}), 2.0)


def test_ping_without_a_ping_method_probes_the_endpoint(server: JsonRpcServer) -> None:
    assert "fault -32601" in plain(server).ping()  # a JSON-RPC answer: reachable, speaks JSON-RPC
    server.status_next.append(503)
    with pytest.raises(TargetUnavailable):
        plain(server).ping()
    with JsonRpcServer(basic=("isthmus", "pw")) as guarded, pytest.raises(TargetRejected, match="401"):
        plain(guarded, auth="basic", username="isthmus", password="wrong").ping()


def tryton_target(server: TrytonServer, **extra: Any) -> JsonRpcTarget:
    options = {
        "url": f"{server.url}/{server.DB}/",
        "auth": "tryton",
        "username": server.USER,
        "password": server.PASSWORD,
        "method": "model.sale.sale.create",
        "params": "positional",
        "as_list": True,
        "context": {"company": 1},
    } | extra
    return JsonRpcTarget(JsonRpcConfig.from_options(options), 2.0)


def test_tryton_session_login_and_relogin_after_expiry() -> None:
    with TrytonServer() as server:
        target = tryton_target(server)
        target.send(message("SO-1", party=3, reference="SO-1"))
        target.send(message("SO-2", party=3, reference="SO-2"))
        assert server.logins == 1
        server.expire()  # the session ends: the next call answers 401
        target.send(message("SO-3", party=4, reference="SO-3"))
        assert server.logins == 2
        assert [s["reference"] for s in server.sales] == ["SO-1", "SO-2", "SO-3"]
        assert server.contexts == [{"company": 1}] * 3
        assert "logged in as admin (user 1)" in target.ping()
        with pytest.raises(TargetRejected, match="LoginException"):
            tryton_target(server, password="wrong").send(message())
        target.close()


def test_tryton_needs_positional_params() -> None:
    with pytest.raises(ConfigurationError, match="positional"):
        JsonRpcTarget(JsonRpcConfig(url="http://x/db/", method="m", auth="tryton", username="a"), 1.0)


def test_a_refused_tryton_login_is_terminal_unless_configured() -> None:
    with TrytonServer() as server:
        server.PASSWORD = "other"  # every login fails …
        target = tryton_target(server, password="tryton-pw")
        with pytest.raises(TargetRejected, match="LoginException"):
            target.send(message())
        limited = tryton_target(server, password="tryton-pw", retry_faults=["LoginException"])  # … or retried
        with pytest.raises(TargetUnavailable):
            limited.send(message())
