"""Users, their web sessions and API tokens, as plain records the storage adapter persists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from isthmus.errors import InvalidInput
from isthmus.security._principal import Principal, PrincipalKind, UserId
from isthmus.security._roles import Role

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}$")


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput(
            "user name: expected 2–64 letters, digits, '.', '_', '@' or '-', got {value!r}", value=username
        )
    return username


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    id: UserId | None
    username: str
    display_name: str = ""
    roles: frozenset[Role] = field(default_factory=frozenset)
    password_hash: str = field(default="", repr=False)
    active: bool = True
    language: str | None = None
    created_at: datetime | None = None

    def principal(self, kind: PrincipalKind = PrincipalKind.USER) -> Principal:
        return Principal(
            actor=self.username,
            kind=kind,
            roles=self.roles,
            user_id=self.id,
            display_name=self.display_name or self.username,
            language=self.language,
        )

    def public(self) -> dict[str, object]:
        """What the API may show: never the hash."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "roles": sorted(r.value for r in self.roles),
            "active": self.active,
            "language": self.language,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSession:
    """A browser session. Only the digest of the cookie value is stored.

    ``idle`` and ``absolute`` timeouts follow OWASP's Session Management Cheat Sheet.
    """

    digest: str
    user_id: UserId
    csrf_token: str = field(repr=False)
    created_at: datetime
    last_seen_at: datetime

    def expired(self, now: datetime, idle: timedelta, absolute: timedelta) -> bool:
        return now - self.last_seen_at > idle or now - self.created_at > absolute


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    id: int | None
    user_id: UserId
    name: str
    digest: str = field(repr=False)
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked: bool = False

    def usable(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)
