"""Security: who acts (principals, roles, permissions), how they prove it (passwords, tokens),
what is hidden (masking) and what is remembered (the hash-chained audit trail).

Example:
    >>> from isthmus.security import Role, is_allowed
    >>> is_allowed({Role.AUDITOR}, "audit:read"), is_allowed({Role.VIEWER}, "catalog:write")
    (True, False)
"""

from isthmus.security._audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditRecord,
    ChainBreak,
    canonical_time,
    chain,
    record_hash,
    verify_chain,
)
from isthmus.security._masking import mask_email, mask_id_number, mask_personal_data, mask_phone, mask_text
from isthmus.security._passwords import (
    DUMMY_HASH,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from isthmus.security._principal import SYSTEM, Principal, PrincipalKind, UserId, cli_operator
from isthmus.security._roles import Role, is_allowed, permissions_of, require
from isthmus.security._tokens import API_TOKEN_PREFIX, new_token, token_digest, tokens_equal
from isthmus.security._users import USERNAME_PATTERN, ApiToken, User, WebSession, check_username

__all__ = [
    "API_TOKEN_PREFIX",
    "DUMMY_HASH",
    "GENESIS_HASH",
    "SYSTEM",
    "USERNAME_PATTERN",
    "ApiToken",
    "AuditEvent",
    "AuditRecord",
    "ChainBreak",
    "Principal",
    "PrincipalKind",
    "Role",
    "User",
    "UserId",
    "WebSession",
    "canonical_time",
    "chain",
    "check_password_policy",
    "check_username",
    "cli_operator",
    "hash_password",
    "is_allowed",
    "mask_email",
    "mask_id_number",
    "mask_personal_data",
    "mask_phone",
    "mask_text",
    "needs_rehash",
    "new_token",
    "permissions_of",
    "record_hash",
    "require",
    "token_digest",
    "tokens_equal",
    "verify_chain",
    "verify_password",
]
