"""Connectors: one package per kind, each the same shape (``config.py``, ``client.py``, README).

:func:`make_target` is the ``TargetFactory`` the composition root hands to ``FlowService``.
"""

from __future__ import annotations

from pydantic import ValidationError

from isthmus.adapters.connectors.files import FilesConfig, FilesTarget
from isthmus.adapters.connectors.http import HttpConfig, HttpTarget
from isthmus.adapters.connectors.jsonrpc import JsonRpcConfig, JsonRpcTarget
from isthmus.adapters.connectors.soap import SoapConfig, SoapTarget
from isthmus.adapters.connectors.sql import SqlConfig, SqlTarget
from isthmus.adapters.connectors.xmlrpc import XmlRpcConfig, XmlRpcTarget
from isthmus.errors import ConfigurationError
from isthmus.integration import Endpoint, Target

TARGET_KINDS = ("files", "http", "jsonrpc", "soap", "sql", "xmlrpc")


def make_target(endpoint: Endpoint, timeout_s: float) -> Target:
    """Open the target connector ``endpoint.connector`` with its options."""
    try:
        if endpoint.connector == "http":
            return HttpTarget(HttpConfig.from_options(endpoint.options), timeout_s)
        if endpoint.connector == "sql":
            return SqlTarget(SqlConfig.from_options(endpoint.options), timeout_s)
        if endpoint.connector == "files":
            return FilesTarget(FilesConfig.from_options(endpoint.options), timeout_s)
        if endpoint.connector == "jsonrpc":
            return JsonRpcTarget(JsonRpcConfig.from_options(endpoint.options), timeout_s)
        if endpoint.connector == "xmlrpc":
            return XmlRpcTarget(XmlRpcConfig.from_options(endpoint.options), timeout_s)
        if endpoint.connector == "soap":
            return SoapTarget(SoapConfig.from_options(endpoint.options), timeout_s)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(
            "target {system}: options.{field}: {error}",
            system=endpoint.system,
            field=field,
            error=first["msg"],
        ) from exc
    raise ConfigurationError(
        "target {system}: unknown connector {kind!r}; expected one of {kinds}",
        system=endpoint.system,
        kind=endpoint.connector,
        kinds=", ".join(TARGET_KINDS),
    )


__all__ = ["TARGET_KINDS", "make_target"]
