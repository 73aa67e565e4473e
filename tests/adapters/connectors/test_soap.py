"""The SOAP connector against a real SOAP service on loopback (a WSDL served over HTTP, SOAP 1.1 and 1.2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree

from isthmus.adapters.connectors import make_target
from isthmus.adapters.connectors.soap import SoapConfig, SoapTarget, body_element, find_fault
from isthmus.errors import ConfigurationError, is_retryable
from isthmus.integration import Endpoint, Outbound, TargetRejected, TargetUnavailable
from tests.adapters.connectors.soap_server import NS, SoapServer, fault, soap_server


def message(key: str = "SO-1", **payload: Any) -> Outbound:
    return Outbound("f", key, payload or {"vbeln": key, "kunnr": "C1"}, timeout_s=2.0)


@pytest.fixture
def server() -> Iterator[SoapServer]:
    with soap_server() as running:
        yield running


def plain(server: SoapServer, **extra: Any) -> SoapTarget:
    options = {
        "url": f"{server.url}/orders",
        "operation": "CreateOrder",
        "namespace": NS,
        "qualified": True,
        "action": "urn:erp:orders/CreateOrder",
    } | extra
    return SoapTarget(SoapConfig.from_options(options), 2.0)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_the_mapping_as_the_body_of_an_envelope(server: SoapServer, version: str) -> None:
    target = plain(server, version=version)
    target.send(message("SO-1", vbeln="SO-1", kunnr="C1", dmbtr="12.50"))
    [got] = server.received
    assert got["version"] == version
    assert got["operation"] == f"{{{NS}}}CreateOrder"
    assert got["fields"] == {f"{{{NS}}}vbeln": "SO-1", f"{{{NS}}}kunnr": "C1", f"{{{NS}}}dmbtr": "12.50"}
    if version == "1.1":
        assert got["action"] == '"urn:erp:orders/CreateOrder"'
    else:
        assert 'action="urn:erp:orders/CreateOrder"' in got["action"]
    assert got["key"] == "SO-1"
    target.close()


def test_the_wsdl_gives_the_body_the_action_and_the_address(server: SoapServer) -> None:
    target = SoapTarget(SoapConfig(wsdl=f"{server.url}/orders?wsdl", operation="CreateOrder"), 2.0)
    target.send(message("SO-1", vbeln="SO-1", kunnr="C1", dmbtr="3.5"))
    target.send(message("SO-2", vbeln="SO-2", kunnr="C2"))
    assert server.wsdl_loads == 1  # loaded once per target
    first = server.received[0]
    assert first["action"] == '"urn:erp:orders/CreateOrder"'
    assert first["fields"] == {f"{{{NS}}}vbeln": "SO-1", f"{{{NS}}}kunnr": "C1", f"{{{NS}}}dmbtr": "3.5"}
    assert "WSDL loaded" in target.ping()
    target.close()


def test_a_payload_the_wsdl_refuses_is_terminal(server: SoapServer) -> None:
    target = SoapTarget(SoapConfig(wsdl=f"{server.url}/orders?wsdl", operation="CreateOrder"), 2.0)
    with pytest.raises(TargetRejected, match="WSDL refuses"):
        target.send(message("SO-1", vbeln="SO-1", kunnr="C1", colour="red"))
    assert server.received == []
    target.close()


def test_a_wsdl_that_cannot_load(server: SoapServer) -> None:
    missing = SoapTarget(SoapConfig(wsdl=f"{server.url}/nothing?wsdl", operation="CreateOrder"), 2.0)
    with pytest.raises(TargetRejected, match="404"):
        missing.send(message())
    unknown = SoapTarget(SoapConfig(wsdl=f"{server.url}/orders?wsdl", operation="DeleteOrder"), 2.0)
    with pytest.raises(TargetRejected, match="DeleteOrder"):
        unknown.send(message())


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(("code", "error"), [("Client", TargetRejected), ("Server", TargetUnavailable)])
def test_faults_decide_retries(server: SoapServer, version: str, code: str, error: type[Exception]) -> None:
    target = plain(server, version=version)
    server.faults_next.append((code, "kunnr C9 unknown" if code == "Client" else "database busy"))
    with pytest.raises(error) as caught:
        target.send(message())
    assert is_retryable(caught.value) == (error is TargetUnavailable)
    assert "SOAP fault" in caught.value.args[0] or "SOAP fault" in str(caught.value)
    target.close()


@pytest.mark.parametrize(("status", "error"), [(503, TargetUnavailable), (400, TargetRejected)])
def test_status_without_a_fault(server: SoapServer, status: int, error: type[Exception]) -> None:
    target = plain(server)
    server.status_next.append(status)
    with pytest.raises(error):
        target.send(message())
    target.close()


def test_find_fault_reads_both_versions() -> None:
    one = find_fault(etree.fromstring(fault("1.1", "Client.Validation", "bad")))
    two = find_fault(etree.fromstring(fault("1.2", "Server", "down")))
    assert one is not None
    assert (one.code, one.reason) == ("Client.Validation", "bad")
    assert two is not None
    assert (two.code, two.reason) == ("Receiver", "down")
    assert find_fault(etree.fromstring(b"<a/>")) is None


def test_body_element_unqualified_and_lists() -> None:
    config = SoapConfig(url="http://x", operation="Order", namespace=NS, xml_item="line")
    element = body_element({"vbeln": "SO-1", "lines": [1, 2]}, config)
    assert element.tag == f"{{{NS}}}Order"
    assert [c.tag for c in element] == ["vbeln", "lines"]
    assert [c.text for c in element.find("lines")] == ["1", "2"]  # type: ignore[union-attr]


def test_the_registry_resolves_soap_and_names_a_bad_option(server: SoapServer) -> None:
    options = {"url": f"{server.url}/orders", "operation": "CreateOrder"}
    target = make_target(Endpoint("ERP", "soap", options), 2.0)
    target.send(message())
    assert len(server.received) == 1
    target.close()
    with pytest.raises(ConfigurationError, match="url or wsdl"):
        make_target(Endpoint("ERP", "soap", {"operation": "CreateOrder"}), 2.0)


def test_refused_is_transient() -> None:
    with soap_server() as gone:
        url = f"{gone.url}/orders"
    target = SoapTarget(SoapConfig(url=url, operation="CreateOrder"), 0.5)
    with pytest.raises(TargetUnavailable):
        target.send(message())
    with pytest.raises(TargetUnavailable):
        target.ping()
