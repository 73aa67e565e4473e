"""The systems registry: who the flows talk to, and their credentials encrypted at rest.

Credentials are sealed in an *envelope* (AES-256-GCM, NIST SP 800-38D): a fresh data key per system
encrypts the JSON of the credentials (the system's name as associated data, so an envelope cannot
be moved to another system); the data key itself is wrapped with a key-encryption key derived from
``ISTHMUS_SECRET_KEY`` by HKDF-SHA256 (RFC 5869). The envelope names that key by ``kid``, so a
rotation only re-wraps the data keys — no credential is ever decrypted to disk or logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from isthmus.errors import ConfigurationError

ENVELOPE_VERSION = 1


class SystemKind(StrEnum):
    ERP = "ERP"
    CRM = "CRM"
    OA = "OA"
    HR = "HR"
    FINANCE = "finance"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """A registered system. ``settings`` are plain connection options; ``envelope`` the sealed secrets."""

    name: str
    kind: SystemKind
    owner: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    envelope: dict[str, str] | None = None
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The public form: never the credentials, only which of them are set."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "owner": self.owner,
            "settings": self.settings,
            "credentials": "set" if self.envelope else "none",
            "key_id": self.envelope["kid"] if self.envelope else None,
            "updated_at": self.updated_at.isoformat(),
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


class MasterKey:
    """A key-encryption key derived from a secret (``ISTHMUS_SECRET_KEY``), known by its ``kid``."""

    def __init__(self, secret: str) -> None:
        self.kid = hashlib.sha256(b"isthmus-kid:" + secret.encode()).hexdigest()[:16]
        self._kek = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"isthmus credentials v1"
        ).derive(secret.encode())

    def __repr__(self) -> str:
        return f"MasterKey(kid={self.kid!r})"

    def wrap(self, data_key: bytes) -> tuple[str, str]:
        nonce = os.urandom(12)
        return _b64(nonce), _b64(AESGCM(self._kek).encrypt(nonce, data_key, self.kid.encode()))

    def unwrap(self, nonce: str, wrapped: str) -> bytes:
        return AESGCM(self._kek).decrypt(_unb64(nonce), _unb64(wrapped), self.kid.encode())


def seal(credentials: dict[str, Any], system: str, key: MasterKey) -> dict[str, str]:
    """Encrypt ``credentials`` for ``system`` under a fresh data key wrapped by ``key``."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    body = AESGCM(data_key).encrypt(nonce, json.dumps(credentials, sort_keys=True).encode(), system.encode())
    key_nonce, wrapped = key.wrap(data_key)
    return {
        "v": str(ENVELOPE_VERSION),
        "kid": key.kid,
        "key_nonce": key_nonce,
        "wrapped_key": wrapped,
        "nonce": _b64(nonce),
        "ciphertext": _b64(body),
    }


def _data_key(envelope: dict[str, str], keys: dict[str, MasterKey]) -> bytes:
    key = keys.get(envelope["kid"])
    if key is None:
        raise ConfigurationError(
            "credentials were sealed with key {kid}, which is not the current ISTHMUS_SECRET_KEY; "
            "run `isthmus system rotate-key` with the old key",
            kid=envelope["kid"],
        )
    try:
        return key.unwrap(envelope["key_nonce"], envelope["wrapped_key"])
    except InvalidTag as exc:
        raise ConfigurationError("credentials envelope {kid} does not open", kid=envelope["kid"]) from exc


def open_envelope(envelope: dict[str, str], system: str, keys: dict[str, MasterKey]) -> dict[str, Any]:
    """The credentials of ``system``; ``ConfigurationError`` when no key in ``keys`` opens them."""
    data_key = _data_key(envelope, keys)
    try:
        plain = AESGCM(data_key).decrypt(
            _unb64(envelope["nonce"]), _unb64(envelope["ciphertext"]), system.encode()
        )
    except InvalidTag as exc:
        raise ConfigurationError("credentials of {system} do not open (tampered?)", system=system) from exc
    value = json.loads(plain)
    assert isinstance(value, dict)
    return value


def rewrap(envelope: dict[str, str], old: MasterKey, new: MasterKey) -> dict[str, str]:
    """The same envelope with its data key wrapped by ``new`` (the ciphertext is untouched)."""
    data_key = _data_key(envelope, {old.kid: old})
    key_nonce, wrapped = new.wrap(data_key)
    return envelope | {"kid": new.kid, "key_nonce": key_nonce, "wrapped_key": wrapped}
