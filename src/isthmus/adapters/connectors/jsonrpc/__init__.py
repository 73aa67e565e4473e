"""JSON-RPC 2.0 connector (Odoo's ``/jsonrpc``, Tryton, any JSON-RPC API): httpx, sessions, fault table."""

from isthmus.adapters.connectors.jsonrpc.client import JsonRpcTarget, JsonRpcTransport
from isthmus.adapters.connectors.jsonrpc.config import JsonRpcConfig

__all__ = ["JsonRpcConfig", "JsonRpcTarget", "JsonRpcTransport"]
