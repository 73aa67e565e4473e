"""Users, web sessions, API tokens and login attempts in memory, like ``adapters/storage/accounts.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from isthmus.errors import Conflict
from isthmus.security import ApiToken, User, UserId, WebSession
from isthmus.testing._memory_tables import LoginAttempt, Tables, utc, utc_or_none


class InMemoryUserRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def get(self, user_id: UserId) -> User | None:
        return self._t.users.get(user_id)

    def by_name(self, username: str) -> User | None:
        return next((u for u in self._t.users.values() if u.username == username), None)

    def add(self, user: User, now: datetime) -> User:
        if self.by_name(user.username) is not None:
            raise Conflict("user {name} already exists", name=user.username)
        user_id = UserId(self._t.next_user_id)
        self._t.next_user_id += 1
        stored = replace(user, id=user_id, created_at=utc(now))
        self._t.users[user_id] = stored
        return stored

    def update(self, user: User) -> None:
        """Like the SQL UPDATE: the name and creation time stay; an unknown id changes nothing."""
        if user.id is None or (current := self._t.users.get(user.id)) is None:
            return
        self._t.users[user.id] = replace(user, username=current.username, created_at=current.created_at)

    def list(self) -> list[User]:
        return sorted(self._t.users.values(), key=lambda u: u.username)


class InMemorySessionRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, session: WebSession) -> None:
        if session.digest in self._t.sessions:
            raise Conflict("session {digest} already exists", digest=session.digest)
        self._t.sessions[session.digest] = replace(
            session, created_at=utc(session.created_at), last_seen_at=utc(session.last_seen_at)
        )

    def get(self, digest: str) -> WebSession | None:
        return self._t.sessions.get(digest)

    def touch(self, digest: str, now: datetime) -> None:
        if (session := self._t.sessions.get(digest)) is not None:
            self._t.sessions[digest] = replace(session, last_seen_at=utc(now))

    def delete(self, digest: str) -> None:
        self._t.sessions.pop(digest, None)

    def delete_for_user(self, user_id: UserId) -> None:
        for digest in [d for d, s in self._t.sessions.items() if s.user_id == user_id]:
            del self._t.sessions[digest]


class InMemoryTokenRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, token: ApiToken) -> ApiToken:
        if self.by_digest(token.digest) is not None:
            raise Conflict("a token with this digest already exists")
        token_id = self._t.next_token_id
        self._t.next_token_id += 1
        stored = ApiToken(
            id=token_id,
            user_id=token.user_id,
            name=token.name,
            digest=token.digest,
            created_at=utc(token.created_at),
            expires_at=utc_or_none(token.expires_at),
        )
        self._t.tokens[token_id] = stored
        return stored

    def by_digest(self, digest: str) -> ApiToken | None:
        return next((t for t in self._t.tokens.values() if t.digest == digest), None)

    def mark_used(self, token_id: int, now: datetime) -> None:
        if (token := self._t.tokens.get(token_id)) is not None:
            self._t.tokens[token_id] = replace(token, last_used_at=utc(now))

    def for_user(self, user_id: UserId) -> list[ApiToken]:
        return sorted((t for t in self._t.tokens.values() if t.user_id == user_id), key=lambda t: t.id or 0)

    def revoke(self, token_id: int) -> None:
        if (token := self._t.tokens.get(token_id)) is not None:
            self._t.tokens[token_id] = replace(token, revoked=True)


class InMemoryLoginAttemptRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def record(self, username: str, address: str, succeeded: bool, at: datetime) -> None:
        # The SQL columns are VARCHAR(200) and VARCHAR(64); the adapter truncates to fit.
        self._t.login_attempts.append(LoginAttempt(username[:200], address[:64], succeeded, utc(at)))

    def failures_since(self, *, username: str, address: str, since: datetime) -> tuple[int, int]:
        failed = [a for a in self._t.login_attempts if not a.succeeded and a.at >= since]
        return sum(a.username == username for a in failed), sum(a.address == address for a in failed)
