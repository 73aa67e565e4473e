"""Settings of the XML-RPC connector, read from a flow's ``target.options``."""

from __future__ import annotations

from typing import Any

from isthmus.adapters.connectors.rpc import RpcConfig


class XmlRpcConfig(RpcConfig):
    """XML-RPC over HTTP POST. With ``auth: odoo`` ``url`` is the server's base address and the
    services live at ``service_path`` (Odoo: ``/xmlrpc/2/common`` and ``/xmlrpc/2/object``);
    otherwise ``url`` is the endpoint itself. XML-RPC has positional parameters only, so
    ``params: named`` sends the payload as one struct. ``allow_none`` sends None as ``<nil/>``
    (an extension Odoo and Python's server accept); without it None is refused."""

    service_path: str = "/xmlrpc/2/{service}"
    allow_none: bool = True
    max_answer_bytes: int = 10_000_000

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> XmlRpcConfig:
        return cls.model_validate(options)
