"""Users, web sessions, API tokens and login attempts on SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.tables import api_tokens, inserted_id, login_attempts, users, web_sessions
from isthmus.errors import Conflict
from isthmus.security import ApiToken, Role, User, UserId, WebSession


def _user(row: Any) -> User:
    return User(
        id=UserId(row.id),
        username=row.username,
        display_name=row.display_name,
        roles=frozenset(Role(r) for r in row.roles),
        password_hash=row.password_hash,
        active=row.active,
        language=row.language,
        created_at=row.created_at,
    )


class SqlUserRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, user_id: UserId) -> User | None:
        row = self._db.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def by_name(self, username: str) -> User | None:
        row = self._db.execute(select(users).where(users.c.username == username)).first()
        return _user(row) if row else None

    def add(self, user: User, now: datetime) -> User:
        if self.by_name(user.username) is not None:
            raise Conflict("user {name} already exists", name=user.username)
        values = {
            "username": user.username,
            "display_name": user.display_name,
            "roles": sorted(r.value for r in user.roles),
            "password_hash": user.password_hash,
            "active": user.active,
            "language": user.language,
            "created_at": now,
        }
        try:
            # A savepoint: a concurrent insert of the same name loses the race cleanly.
            with self._db.begin_nested():
                result = self._db.execute(insert(users).values(**values))
        except IntegrityError as exc:
            raise Conflict("user {name} already exists", name=user.username) from exc
        new_id = UserId(inserted_id(result))
        return User(
            id=new_id,
            username=user.username,
            display_name=user.display_name,
            roles=user.roles,
            password_hash=user.password_hash,
            active=user.active,
            language=user.language,
            created_at=now,
        )

    def update(self, user: User) -> None:
        self._db.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(
                display_name=user.display_name,
                roles=sorted(r.value for r in user.roles),
                password_hash=user.password_hash,
                active=user.active,
                language=user.language,
            )
        )

    def list(self) -> list[User]:
        return [_user(r) for r in self._db.execute(select(users).order_by(users.c.username)).all()]


class SqlSessionRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, session: WebSession) -> None:
        self._db.execute(
            insert(web_sessions).values(
                digest=session.digest,
                user_id=session.user_id,
                csrf_token=session.csrf_token,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
            )
        )

    def get(self, digest: str) -> WebSession | None:
        row = self._db.execute(select(web_sessions).where(web_sessions.c.digest == digest)).first()
        if row is None:
            return None
        return WebSession(
            digest=row.digest,
            user_id=UserId(row.user_id),
            csrf_token=row.csrf_token,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )

    def touch(self, digest: str, now: datetime) -> None:
        self._db.execute(update(web_sessions).where(web_sessions.c.digest == digest).values(last_seen_at=now))

    def delete(self, digest: str) -> None:
        self._db.execute(delete(web_sessions).where(web_sessions.c.digest == digest))

    def delete_for_user(self, user_id: UserId) -> None:
        self._db.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row.id,
        user_id=UserId(row.user_id),
        name=row.name,
        digest=row.digest,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked,
    )


class SqlTokenRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, token: ApiToken) -> ApiToken:
        result = self._db.execute(
            insert(api_tokens).values(
                user_id=token.user_id,
                name=token.name,
                digest=token.digest,
                created_at=token.created_at,
                expires_at=token.expires_at,
                revoked=False,
            )
        )
        return ApiToken(
            id=inserted_id(result),
            user_id=token.user_id,
            name=token.name,
            digest=token.digest,
            created_at=token.created_at,
            expires_at=token.expires_at,
        )

    def by_digest(self, digest: str) -> ApiToken | None:
        row = self._db.execute(select(api_tokens).where(api_tokens.c.digest == digest)).first()
        return _token(row) if row else None

    def mark_used(self, token_id: int, now: datetime) -> None:
        self._db.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))

    def for_user(self, user_id: UserId) -> list[ApiToken]:
        rows = self._db.execute(
            select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
        ).all()
        return [_token(r) for r in rows]

    def revoke(self, token_id: int) -> None:
        self._db.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked=True))


class SqlLoginAttemptRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def record(self, username: str, address: str, succeeded: bool, at: datetime) -> None:
        self._db.execute(
            insert(login_attempts).values(
                username=username[:200], address=address[:64], succeeded=succeeded, at=at
            )
        )

    def failures_since(self, *, username: str, address: str, since: datetime) -> tuple[int, int]:
        base = (
            select(func.count())
            .select_from(login_attempts)
            .where(login_attempts.c.succeeded.is_(False), login_attempts.c.at >= since)
        )
        by_user = self._db.execute(base.where(login_attempts.c.username == username)).scalar_one()
        by_address = self._db.execute(base.where(login_attempts.c.address == address)).scalar_one()
        return int(by_user), int(by_address)
