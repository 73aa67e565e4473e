"""Masking personal information before it is written to the audit trail or shown to a role
without the right to see it (China's Personal Information Protection Law; the guide's ch. 4:
"hide the middle four digits of a phone number").

Masking is by field name (a field called ``phone`` is masked whatever it holds) and by value shape
(an 11-digit mainland mobile number or an 18-character resident ID is masked wherever it appears).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SECRET_FIELDS = frozenset(
    {"password", "password_hash", "token", "token_hash", "secret", "api_key", "client_secret", "credentials"}
)
PHONE_FIELDS = frozenset({"phone", "mobile", "telephone", "tel", "phone_number", "mobile_phone"})
ID_FIELDS = frozenset({"id_number", "id_card", "identity_number", "citizen_id", "passport"})
EMAIL_FIELDS = frozenset({"email", "e_mail", "mail"})

_CN_MOBILE = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_CN_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
# Both shapes hold a run of at least 11 digits: text without one has nothing to mask (one scan
# instead of two substitutions, on every field of every webhook's display copy)
_ELEVEN_DIGITS = re.compile(r"\d{11}")
_NON_DIGITS = re.compile(r"\D")


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``; other shapes keep the first 3 and last 4 characters."""
    digits = _NON_DIGITS.sub("", value)
    if len(digits) >= 11:
        match = _CN_MOBILE.search(value)
        if match:
            return _CN_MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", value)
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * max(len(value) - 10, 0) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    return (local[:1] + "***" + at + domain) if at else "***"


def mask_text(value: str) -> str:
    """Mask phone numbers and resident ID numbers inside free text."""
    if not _ELEVEN_DIGITS.search(value):
        return value
    value = _CN_ID.sub(lambda m: m.group(1) + "********" + m.group(3), value)
    return _CN_MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", value)


def mask_value(key: str, value: Any) -> Any:
    name = key.lower()
    if name in SECRET_FIELDS:
        return "***"
    if isinstance(value, str):
        if name in PHONE_FIELDS:
            return mask_phone(value)
        if name in ID_FIELDS:
            return mask_id_number(value)
        if name in EMAIL_FIELDS:
            return mask_email(value)
        return mask_text(value)
    return mask_personal_data(value)


def mask_personal_data(data: Any) -> Any:
    """A copy of ``data`` (JSON-like) with personal and secret values masked, at any depth."""
    if isinstance(data, Mapping):
        return {str(k): mask_value(str(k), v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [mask_personal_data(v) for v in data]
    if isinstance(data, str):
        return mask_text(data)
    return data
