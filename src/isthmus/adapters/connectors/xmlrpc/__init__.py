"""XML-RPC connector (Odoo's ``/xmlrpc/2``, Tryton, any XML-RPC API): stdlib marshalling over httpx."""

from isthmus.adapters.connectors.xmlrpc.client import XmlRpcTarget, XmlRpcTransport, marshallable
from isthmus.adapters.connectors.xmlrpc.config import XmlRpcConfig

__all__ = ["XmlRpcConfig", "XmlRpcTarget", "XmlRpcTransport", "marshallable"]
