"""Settings of the JSON-RPC connector, read from a flow's ``target.options``."""

from __future__ import annotations

from typing import Any

from isthmus.adapters.connectors.rpc import RpcConfig


class JsonRpcConfig(RpcConfig):
    """JSON-RPC 2.0 over HTTP POST. With ``auth: odoo`` ``url`` is Odoo's ``/jsonrpc`` endpoint and
    every call goes through its ``call`` method (``{"service": …, "method": …, "args": […]}``)."""

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> JsonRpcConfig:
        return cls.model_validate(options)
