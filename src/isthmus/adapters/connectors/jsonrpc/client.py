"""JSON-RPC 2.0 target over httpx: one request per call, faults decide retries.

An answer's ``error`` member (JSON-RPC 2.0 §5.1) becomes a ``RemoteFault``; Odoo puts the
exception's class in ``error.data.name`` (``odoo.exceptions.ValidationError``), which the fault
table in :mod:`isthmus.adapters.connectors.rpc` reads.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx

from isthmus.adapters.connectors.jsonrpc.config import JsonRpcConfig
from isthmus.adapters.connectors.rpc import (
    RemoteFault,
    RpcTarget,
    check_status,
    http_failure,
    named_or_positional,
)
from isthmus.integration import TargetUnavailable


class JsonRpcTransport:
    """Satisfies ``rpc.Transport``."""

    def __init__(self, config: JsonRpcConfig, timeout_s: float) -> None:
        self._config = config
        self._client = config.httpx_client(timeout_s)
        self._ids = itertools.count(1)

    def _request(self, service: str, method: str, params: Any, request_id: int) -> dict[str, Any]:
        if self._config.auth == "odoo":
            envelope: dict[str, Any] = {"service": service, "method": method, "args": list(params)}
            return {"jsonrpc": "2.0", "method": "call", "params": envelope, "id": request_id}
        return {"jsonrpc": "2.0", "method": method, "params": named_or_positional(params), "id": request_id}

    def call(self, service: str, method: str, params: Any, timeout_s: float) -> Any:
        request_id = next(self._ids)
        body = json.dumps(self._request(service, method, params, request_id), ensure_ascii=False, default=str)
        url = self._config.url
        try:
            answer = self._client.post(
                url, content=body.encode(), headers={"Content-Type": "application/json"}, timeout=timeout_s
            )
        except httpx.HTTPError as exc:
            raise http_failure(url, exc, timeout_s) from exc
        check_status(url, answer)
        try:
            reply = answer.json()
        except ValueError as exc:  # a proxy's error page with status 200: the server was not reached
            raise TargetUnavailable(
                "{url}: the answer is not JSON: {text}", url=url, text=answer.text[:100]
            ) from exc
        if not isinstance(reply, dict) or reply.get("id") != request_id:
            raise TargetUnavailable(
                "{url}: an answer to another request: {text}", url=url, text=answer.text[:100]
            )
        error = reply.get("error")
        if error is not None:
            raise _fault(error)
        return reply.get("result")

    def authorize(self, value: str | None) -> None:
        if value is None:
            self._client.headers.pop("Authorization", None)
        else:
            self._client.headers["Authorization"] = value

    def close(self) -> None:
        self._client.close()


def _fault(error: Any) -> RemoteFault:
    if isinstance(error, list) and error:  # Tryton: [exception name, arguments]
        return RemoteFault(None, str(error[1:])[:500], str(error[0]))
    if not isinstance(error, dict):
        return RemoteFault(None, str(error))
    data = error.get("data")
    name = message = ""
    if isinstance(data, dict):
        name = str(data.get("name") or "")
        message = str(data.get("message") or "")
    return RemoteFault(error.get("code"), message or str(error.get("message", "")), name)


class JsonRpcTarget(RpcTarget):
    """Satisfies ``isthmus.integration.Target``."""

    def __init__(self, config: JsonRpcConfig, timeout_s: float) -> None:
        super().__init__(config, JsonRpcTransport(config, timeout_s), timeout_s)
