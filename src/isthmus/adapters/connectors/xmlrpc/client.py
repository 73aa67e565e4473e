"""XML-RPC target: the standard library's marshalling (``xmlrpc.client.dumps``/``loads``) sent over
httpx, so timeouts, a private CA and basic auth work as for every other connector (the stdlib
``ServerProxy`` has no per-call timeout and no CA option).

A ``<fault>`` answer becomes a ``RemoteFault`` with its ``faultCode``/``faultString``; the fault
table in :mod:`isthmus.adapters.connectors.rpc` decides retries. Answers are parsed by expat, whose
2.4+ releases (bundled with the Pythons we support) limit entity expansion; their size is capped
by ``max_answer_bytes``.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.parsers.expat import ExpatError

import httpx

from isthmus.adapters.connectors.rpc import RemoteFault, RpcTarget, check_status, http_failure
from isthmus.adapters.connectors.xmlrpc.config import XmlRpcConfig
from isthmus.integration import TargetRejected, TargetUnavailable


def marshallable(value: Any) -> Any:
    """Values XML-RPC can carry: Decimal as a double, a date as ``YYYY-MM-DD`` (what Odoo's date
    fields take), mappings and sequences walked."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): marshallable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [marshallable(v) for v in value]
    return value


class XmlRpcTransport:
    """Satisfies ``rpc.Transport``."""

    def __init__(self, config: XmlRpcConfig, timeout_s: float) -> None:
        self._config = config
        self._client = config.httpx_client(timeout_s)

    def _url(self, service: str) -> str:
        if not service:
            return self._config.url
        return self._config.url.rstrip("/") + self._config.service_path.format(service=service)

    def call(self, service: str, method: str, params: Any, timeout_s: float) -> Any:
        url = self._url(service)
        values = (params,) if isinstance(params, Mapping) else tuple(params)
        try:
            body = xmlrpc.client.dumps(
                tuple(marshallable(values)),
                methodname=method,
                allow_none=self._config.allow_none,
                encoding="utf-8",
            )
        except (TypeError, OverflowError) as exc:  # None without allow_none, an int past 32 bits …
            raise TargetRejected("{url}: cannot send as XML-RPC: {error}", url=url, error=str(exc)) from exc
        try:
            answer = self._client.post(
                url, content=body.encode(), headers={"Content-Type": "text/xml"}, timeout=timeout_s
            )
        except httpx.HTTPError as exc:
            raise http_failure(url, exc, timeout_s) from exc
        check_status(url, answer)
        if len(answer.content) > self._config.max_answer_bytes:
            raise TargetRejected(
                "{url}: answer larger than {n} bytes", url=url, n=self._config.max_answer_bytes
            )
        try:
            result, _ = xmlrpc.client.loads(answer.content, use_builtin_types=True)
        except xmlrpc.client.Fault as fault:
            raise RemoteFault(fault.faultCode, str(fault.faultString)) from fault
        except (ExpatError, xmlrpc.client.ResponseError, ValueError) as exc:
            raise TargetUnavailable("{url}: not an XML-RPC answer: {error}", url=url, error=str(exc)) from exc
        return result[0] if result else None

    def authorize(self, value: str | None) -> None:
        if value is None:
            self._client.headers.pop("Authorization", None)
        else:
            self._client.headers["Authorization"] = value

    def close(self) -> None:
        self._client.close()


class XmlRpcTarget(RpcTarget):
    """Satisfies ``isthmus.integration.Target``."""

    def __init__(self, config: XmlRpcConfig, timeout_s: float) -> None:
        super().__init__(config, XmlRpcTransport(config, timeout_s), timeout_s)
