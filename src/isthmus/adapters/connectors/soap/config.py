"""Settings of the SOAP/XML connector, read from a flow's ``target.options``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator


class SoapConfig(BaseModel):
    """Without ``wsdl`` the body is the mapped payload as XML (``operation`` the element name,
    ``namespace`` its namespace, ``qualified`` whether the fields are in it too, ``xml_item`` the
    name of list entries) in a SOAP ``version`` 1.1 or 1.2 envelope with ``action`` as SOAPAction.
    With ``wsdl`` (a URL or a file) zeep builds the body from the schema, and the action, the SOAP
    version and (unless ``url`` is set) the address come from the binding of ``service``/``port``
    (default: the first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = ""
    wsdl: str = ""
    service: str = ""
    port: str = ""
    operation: str
    action: str = ""
    version: Literal["1.1", "1.2"] = "1.1"
    namespace: str = ""
    qualified: bool = False
    xml_item: str = "item"
    auth: Literal["none", "basic"] = "none"
    username: str = ""
    password: SecretStr = SecretStr("")
    idempotency_field: str = ""
    idempotency_header: str = "Idempotency-Key"
    ca_file: str | None = None
    verify: bool = True
    headers: dict[str, str] = {}
    max_answer_bytes: int = 10_000_000

    @model_validator(mode="after")
    def _an_address(self) -> SoapConfig:
        if not (self.url or self.wsdl):
            raise ValueError("url or wsdl is required")
        return self

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SoapConfig:
        return cls.model_validate(options)
