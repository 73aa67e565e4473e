""" "Test connection" for a registered system: reach it with its connector, send nothing.

Each kind does the least that proves the settings and credentials work: an RPC login (or the
``ping_method``), a WSDL load, an OAuth token or a GET, ``SELECT 1``, a writable folder. Options a
flow would add (the method, the operation, the table) are not needed and default to placeholders.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from isthmus.adapters.connectors.http import HttpConfig, OAuthToken
from isthmus.adapters.connectors.jsonrpc import JsonRpcConfig, JsonRpcTarget
from isthmus.adapters.connectors.rpc import check_status, http_failure
from isthmus.adapters.connectors.soap import SoapConfig, SoapTarget
from isthmus.adapters.connectors.xmlrpc import XmlRpcConfig, XmlRpcTarget
from isthmus.errors import ConfigurationError
from isthmus.integration import TargetRejected, TargetUnavailable

PING_KINDS = ("files", "http", "jsonrpc", "soap", "sql", "xmlrpc")


def _http(options: dict[str, Any], timeout_s: float) -> str:
    config = HttpConfig.from_options(options)
    verify: bool | str = config.ca_file if config.ca_file else config.verify
    with httpx.Client(timeout=timeout_s, verify=verify) as client:
        if config.auth == "oauth2":
            OAuthToken(client, config).get()
            return f"token issued by {config.token_url}"
        try:
            answer = client.get(config.url)
        except httpx.HTTPError as exc:
            raise http_failure(config.url, exc, timeout_s) from exc
        if answer.status_code >= 500:
            check_status(config.url, answer)
        return f"{config.url} answered {answer.status_code}"


def _sql(options: dict[str, Any], timeout_s: float) -> str:
    url = str(options.get("url", ""))
    try:
        engine = create_engine(url)
    except ArgumentError as exc:
        raise ConfigurationError("options.url: not a SQLAlchemy URL") from exc
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise TargetUnavailable(
            "{db}: {error}", db=engine.url.render_as_string(), error=str(exc).splitlines()[0][:200]
        ) from exc
    finally:
        engine.dispose()
    return f"{engine.url.render_as_string()}: SELECT 1 answered"


def _files(options: dict[str, Any]) -> str:
    folder = Path(str(options.get("folder", "")))
    if not folder.is_dir():
        raise TargetRejected("{folder} is not a folder", folder=str(folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TargetRejected("{folder} is not writable", folder=str(folder))
    return f"{folder} is a writable folder"


def ping(kind: str, options: dict[str, Any], timeout_s: float) -> str:
    """What answered; raises ``TargetUnavailable``/``TargetRejected``/``ConfigurationError`` when not."""
    try:
        if kind == "http":
            return _http(options, timeout_s)
        if kind == "sql":
            return _sql(options, timeout_s)
        if kind == "files":
            return _files(options)
        target: JsonRpcTarget | XmlRpcTarget | SoapTarget
        if kind == "jsonrpc":
            target = JsonRpcTarget(
                JsonRpcConfig.from_options({"method": "-", "model": "-"} | options), timeout_s
            )
        elif kind == "xmlrpc":
            target = XmlRpcTarget(
                XmlRpcConfig.from_options({"method": "-", "model": "-"} | options), timeout_s
            )
        elif kind == "soap":
            target = SoapTarget(SoapConfig.from_options({"operation": "-"} | options), timeout_s)
        else:
            raise ConfigurationError(
                "unknown connector {kind!r}; expected one of {kinds}", kind=kind, kinds=", ".join(PING_KINDS)
            )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError("options.{field}: {error}", field=field, error=first["msg"]) from exc
    try:
        return target.ping()
    finally:
        target.close()
