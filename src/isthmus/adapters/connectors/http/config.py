"""Settings of the HTTP (REST/JSON) connector, read from a flow's ``target.options``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr


class HttpConfig(BaseModel):
    """``auth``: none, basic (username/password), api_key (header + key) or oauth2 (client
    credentials against ``token_url``). ``ca_file`` trusts a private CA; ``verify: false`` is refused
    outside loopback by nothing but good sense — do not. ``format: xml`` sends the payload as XML
    under ``xml_root``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    auth: Literal["none", "basic", "api_key", "oauth2"] = "none"
    username: str = ""
    password: SecretStr = SecretStr("")
    api_key: SecretStr = SecretStr("")
    api_key_header: str = "X-API-Key"
    token_url: str = ""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    scope: str = ""
    ca_file: str | None = None
    verify: bool = True
    format: Literal["json", "xml"] = "json"
    xml_root: str = "record"
    xml_item: str = "item"
    idempotency_header: str = "Idempotency-Key"
    headers: dict[str, str] = {}

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> HttpConfig:
        return cls.model_validate(options)
