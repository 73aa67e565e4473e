"""Opaque random tokens (API tokens, session ids) and their stored form.

Only the SHA-256 of a token is stored: tokens have 256 bits of entropy, so a fast hash is safe
(unlike passwords) and lets a lookup be an indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets

API_TOKEN_PREFIX = "ist_"


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
