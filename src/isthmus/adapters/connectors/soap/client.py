"""SOAP target: an XML body from the mapping in a SOAP 1.1 or 1.2 envelope, sent with httpx.

The body is the JSON → XML transform of ``isthmus.integration`` (``to_xml``), or — with a WSDL —
what zeep builds from the schema for the operation (types checked before anything is sent; a
payload the schema refuses is terminal). Sending stays with httpx in both cases, so timeouts, a
private CA and the answers' classification are those of every other connector.

A SOAP fault decides retries by its code (SOAP 1.1 §4.4.1, SOAP 1.2 part 1 §5.4.6): ``Client`` /
``Sender`` means the message itself is wrong (terminal), ``Server`` / ``Receiver`` that the service
failed (transient). Answers are parsed with the hardened parser (no DOCTYPE, no entities, size cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from lxml import etree

from isthmus.adapters.connectors.rpc import check_status, http_failure
from isthmus.adapters.connectors.soap.config import SoapConfig
from isthmus.errors import IsthmusError
from isthmus.hardened_xml import parse_untrusted
from isthmus.integration import Outbound, TargetRejected, TargetUnavailable, to_xml

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_TRANSIENT_CODES = ("Server", "Receiver")


@dataclass(frozen=True, slots=True)
class Fault:
    code: str
    reason: str


def envelope(body: etree._Element, version: str) -> bytes:
    """``body`` inside ``Envelope/Body`` of SOAP ``version``."""
    ns = SOAP12 if version == "1.2" else SOAP11
    env = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    etree.SubElement(env, f"{{{ns}}}Body").append(body)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def body_element(payload: dict[str, Any], config: SoapConfig) -> etree._Element:
    """The mapped payload as the operation's element (the shared JSON → XML transform)."""
    root = etree.fromstring(to_xml(payload, root=config.operation, item=config.xml_item))
    if config.namespace:
        for element in root.iter() if config.qualified else (root,):
            element.tag = f"{{{config.namespace}}}{etree.QName(element).localname}"
        etree.cleanup_namespaces(root, top_nsmap={"m": config.namespace})
    return root


def find_fault(document: etree._Element) -> Fault | None:
    """The fault of a SOAP 1.1 or 1.2 answer, if it is one; the code without its prefix."""
    for ns in (SOAP11, SOAP12):
        fault = document.find(f"{{{ns}}}Body/{{{ns}}}Fault")
        if fault is None:
            continue
        if ns == SOAP11:
            code = fault.findtext("faultcode") or ""
            reason = fault.findtext("faultstring") or ""
        else:
            code = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or ""
            reason = fault.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or ""
        return Fault(code.rpartition(":")[2], reason.strip())
    return None


class _Wsdl:
    """The operation's message, action, SOAP version and address from a WSDL (zeep)."""

    def __init__(self, config: SoapConfig, http: httpx.Client) -> None:
        from zeep import Client
        from zeep.wsdl.bindings.soap import Soap12Binding

        from isthmus.adapters.connectors.soap.wsdl import HttpxTransport

        self._client = Client(config.wsdl, transport=HttpxTransport(http))
        port = self._port(config)
        binding = port.binding
        self.address = config.url or str(port.binding_options["address"])
        self.version = "1.2" if isinstance(binding, Soap12Binding) else "1.1"
        self.action = config.action or str(binding.get(config.operation).soapaction or "")
        self._service = self._client.create_service(binding.name, self.address)
        self._operation = config.operation

    def _port(self, config: SoapConfig) -> Any:
        services = self._client.wsdl.services
        service = services[config.service] if config.service else next(iter(services.values()))
        return service.ports[config.port] if config.port else next(iter(service.ports.values()))

    def message(self, payload: dict[str, Any]) -> bytes:
        try:
            built = self._client.create_message(self._service, self._operation, **payload)
        except (TypeError, ValueError) as exc:  # zeep: an unknown or missing element, a bad value
            raise TargetRejected("the WSDL refuses the payload: {error}", error=str(exc)) from exc
        return bytes(etree.tostring(built, xml_declaration=True, encoding="UTF-8"))


class SoapTarget:
    """Satisfies ``isthmus.integration.Target``."""

    def __init__(self, config: SoapConfig, timeout_s: float) -> None:
        self.config = config
        verify: bool | str = config.ca_file if config.ca_file else config.verify
        auth = (config.username, config.password.get_secret_value()) if config.auth == "basic" else None
        self._client = httpx.Client(timeout=timeout_s, verify=verify, auth=auth, headers=config.headers)
        self._wsdl: _Wsdl | None = None
        self._timeout_s = timeout_s

    def _schema(self) -> _Wsdl:
        if self._wsdl is None:
            try:
                self._wsdl = _Wsdl(self.config, self._client)
            except IsthmusError:
                raise
            except httpx.HTTPError as exc:
                raise http_failure(self.config.wsdl, exc, self._timeout_s) from exc
            except Exception as exc:  # zeep's parse and lookup errors have no common base
                raise TargetRejected(
                    "WSDL {wsdl}: {error}", wsdl=self.config.wsdl, error=f"{type(exc).__name__}: {exc}"
                ) from exc
        return self._wsdl

    def request(self, message: Outbound) -> tuple[str, bytes, dict[str, str]]:
        """Address, body and headers of ``message`` (built, not sent)."""
        payload = dict(message.payload)
        if self.config.idempotency_field:
            payload[self.config.idempotency_field] = message.idempotency_key
        if self.config.wsdl:
            schema = self._schema()
            address, version, action, body = (
                schema.address,
                schema.version,
                schema.action,
                schema.message(payload),
            )
        else:
            address, version, action = self.config.url, self.config.version, self.config.action
            body = envelope(body_element(payload, self.config), version)
        headers = {self.config.idempotency_header: message.idempotency_key}
        if version == "1.2":
            headers["Content-Type"] = f'application/soap+xml; charset=utf-8; action="{action}"'
        else:
            headers["Content-Type"] = "text/xml; charset=utf-8"
            headers["SOAPAction"] = f'"{action}"'
        return address, body, headers

    def send(self, message: Outbound) -> None:
        address, body, headers = self.request(message)
        try:
            answer = self._client.post(address, content=body, headers=headers, timeout=message.timeout_s)
        except httpx.HTTPError as exc:
            raise http_failure(address, exc, message.timeout_s) from exc
        fault = self._fault(answer)
        if fault is not None:
            error = TargetUnavailable if fault.code.split(".")[0] in _TRANSIENT_CODES else TargetRejected
            raise error(
                "{url}: SOAP fault {code}: {reason}", url=address, code=fault.code, reason=fault.reason[:300]
            )
        check_status(address, answer)

    def _fault(self, answer: httpx.Response) -> Fault | None:
        if "xml" not in answer.headers.get("content-type", "") or not answer.content:
            return None
        try:
            document = parse_untrusted(
                answer.content,
                source=str(answer.url),
                max_bytes=self.config.max_answer_bytes,
                keep_comments=False,
            )
        except IsthmusError:
            return None  # not SOAP: the status decides
        return find_fault(document.getroot())

    def ping(self) -> str:
        """Load the WSDL (when there is one) and check the endpoint answers at all."""
        if self.config.wsdl:
            schema = self._schema()
            return f"WSDL loaded: {self.config.operation} at {schema.address} (SOAP {schema.version})"
        try:
            answer = self._client.get(self.config.url, timeout=self._timeout_s)
        except httpx.HTTPError as exc:
            raise http_failure(self.config.url, exc, self._timeout_s) from exc
        if answer.status_code >= 500 and self._fault(answer) is None:
            check_status(self.config.url, answer)
        return f"{self.config.url} answered {answer.status_code}"

    def close(self) -> None:
        self._client.close()
