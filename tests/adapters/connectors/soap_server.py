"""A loopback SOAP service: ``GET /orders?wsdl`` serves a document/literal WSDL (SOAP 1.1 binding,
operation ``CreateOrder``), ``POST /orders`` records the body and answers, or with an injected fault
in the SOAP version of the request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = "urn:erp:orders"

WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:erp:orders" targetNamespace="urn:erp:orders">
  <types>
    <xs:schema targetNamespace="urn:erp:orders" elementFormDefault="qualified">
      <xs:element name="CreateOrder">
        <xs:complexType><xs:sequence>
          <xs:element name="vbeln" type="xs:string"/>
          <xs:element name="kunnr" type="xs:string"/>
          <xs:element name="dmbtr" type="xs:decimal" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="CreateOrderResponse">
        <xs:complexType><xs:sequence><xs:element name="ok" type="xs:boolean"/></xs:sequence></xs:complexType>
      </xs:element>
    </xs:schema>
  </types>
  <message name="CreateOrderIn"><part name="parameters" element="tns:CreateOrder"/></message>
  <message name="CreateOrderOut"><part name="parameters" element="tns:CreateOrderResponse"/></message>
  <portType name="OrdersPort">
    <operation name="CreateOrder"><input message="tns:CreateOrderIn"/><output message="tns:CreateOrderOut"/></operation>
  </portType>
  <binding name="OrdersBinding" type="tns:OrdersPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="CreateOrder">
      <soap:operation soapAction="urn:erp:orders/CreateOrder"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <service name="Orders">
    <port name="OrdersSoap" binding="tns:OrdersBinding"><soap:address location="{address}"/></port>
  </service>
</definitions>
"""


def fault(version: str, code: str, reason: str) -> bytes:
    if version == "1.2":
        value = {"Client": "Sender", "Server": "Receiver"}.get(code, code)
        body = (
            f"<env:Fault><env:Code><env:Value>env:{value}</env:Value></env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>'
        )
        return f'<env:Envelope xmlns:env="{SOAP12}"><env:Body>{body}</env:Body></env:Envelope>'.encode()
    body = f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{reason}</faultstring></soap:Fault>"
    return f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>{body}</soap:Body></soap:Envelope>'.encode()


class SoapServer:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.faults_next: list[tuple[str, str]] = []  # (Client|Server, reason)
        self.status_next: list[int] = []
        self.wsdl_loads = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/orders?wsdl":
                    self._send(404, b"no", "text/plain")
                    return
                outer.wsdl_loads += 1
                self._send(200, WSDL.replace("{address}", f"{outer.url}/orders").encode(), "text/xml")

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                version = "1.2" if "soap+xml" in self.headers["Content-Type"] else "1.1"
                if outer.status_next:
                    self._send(outer.status_next.pop(0), b"busy", "text/plain")
                    return
                if outer.faults_next:
                    code, reason = outer.faults_next.pop(0)
                    kind = "application/soap+xml" if version == "1.2" else "text/xml; charset=utf-8"
                    self._send(500, fault(version, code, reason), kind)
                    return
                document = etree.fromstring(data)
                ns = SOAP12 if version == "1.2" else SOAP11
                operation = document.find(f"{{{ns}}}Body")[0]  # type: ignore[index]
                outer.received.append(
                    {
                        "version": version,
                        "operation": operation.tag,
                        "fields": {etree.QName(c).text: c.text for c in operation},
                        "action": self.headers.get("SOAPAction") or self.headers["Content-Type"],
                        "key": self.headers.get("Idempotency-Key"),
                    }
                )
                ok = f'<s:Envelope xmlns:s="{ns}"><s:Body><CreateOrderResponse xmlns="{NS}"><ok>true</ok></CreateOrderResponse></s:Body></s:Envelope>'
                self._send(200, ok.encode(), "text/xml; charset=utf-8")

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def soap_server() -> Iterator[SoapServer]:
    server = SoapServer()
    thread = threading.Thread(target=server.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
