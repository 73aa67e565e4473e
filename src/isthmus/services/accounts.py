"""Signing in and out, sessions, API tokens and user administration.

Login failures are throttled per user name and per client address (OWASP Authentication Cheat
Sheet): after :data:`MAX_FAILURES_PER_USER` failures in :data:`THROTTLE_WINDOW` further attempts
are refused without checking the password, and every failure is logged and audited.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from isthmus.errors import AuthenticationFailed, Conflict, NotFound, Throttled
from isthmus.security import (
    API_TOKEN_PREFIX,
    DUMMY_HASH,
    ApiToken,
    Principal,
    PrincipalKind,
    Role,
    User,
    WebSession,
    check_username,
    hash_password,
    needs_rehash,
    new_token,
    token_digest,
    verify_password,
)
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("isthmus.security")

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new browser session: ``cookie`` goes to the browser (only its digest is stored)."""

    cookie: str
    csrf_token: str
    user: User


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


class AccountService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, timeouts: SessionTimeouts = SessionTimeouts()
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._timeouts = timeouts

    # --- signing in -----------------------------------------------------------------------
    def login(self, username: str, password: str, address: str) -> SignedIn:
        now = self._clock.now()
        with self._uow() as uow:
            by_user, by_address = uow.login_attempts.failures_since(
                username=username, address=address, since=now - THROTTLE_WINDOW
            )
            if by_user >= MAX_FAILURES_PER_USER or by_address >= MAX_FAILURES_PER_ADDRESS:
                log.warning("login throttled for user=%r address=%s", username, address)
                raise Throttled(
                    "too many failed sign-ins; try again in {minutes} minutes",
                    retry_after_s=int(THROTTLE_WINDOW.total_seconds()),
                    minutes=int(THROTTLE_WINDOW.total_seconds() // 60),
                )
            user = uow.users.by_name(username)
            # Verify against a dummy hash for unknown users so timing does not reveal who exists.
            ok = verify_password(user.password_hash if user else DUMMY_HASH, password)
            ok = ok and user is not None and user.active
            uow.login_attempts.record(username, address, ok, now)
            actor = Principal(actor=username[:64] or "?", kind=PrincipalKind.USER)
            if not ok or user is None or user.id is None:  # user.id is None never for a stored user
                log.warning("login failed for user=%r address=%s", username, address)
                audit.record(
                    uow,
                    self._clock,
                    actor,
                    "auth.login_failed",
                    "user",
                    username[:64],
                    after={"address": address},
                )
                uow.commit()
                raise AuthenticationFailed("wrong user name or password")
            user_id = user.id
            if needs_rehash(user.password_hash):
                user = replace(user, password_hash=hash_password(password))
                uow.users.update(user)
            cookie = new_token()
            session = WebSession(
                digest=token_digest(cookie),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
            )
            uow.sessions.add(session)
            audit.record(
                uow,
                self._clock,
                user.principal(),
                "auth.login",
                "user",
                user.username,
                after={"address": address},
            )
            uow.commit()
        log.info("login user=%r address=%s", username, address)
        return SignedIn(cookie=cookie, csrf_token=session.csrf_token, user=user)

    def session_principal(self, cookie: str) -> tuple[Principal, WebSession]:
        """The principal of a live session; raises AuthenticationFailed when unknown or expired."""
        now = self._clock.now()
        digest = token_digest(cookie)
        with self._uow() as uow:
            session = uow.sessions.get(digest)
            if session is None:
                raise AuthenticationFailed("not signed in")
            if session.expired(now, self._timeouts.idle, self._timeouts.absolute):
                uow.sessions.delete(digest)
                uow.commit()
                raise AuthenticationFailed("your session expired; please sign in again")
            user = uow.users.get(session.user_id)
            if user is None or not user.active:
                raise AuthenticationFailed("not signed in")
            # Touch at most once a minute: sessions are read on every request.
            if now - session.last_seen_at > timedelta(minutes=1):
                uow.sessions.touch(digest, now)
                uow.commit()
        return user.principal(), session

    def logout(self, cookie: str) -> None:
        with self._uow() as uow:
            session = uow.sessions.get(token_digest(cookie))
            if session is None:
                return
            uow.sessions.delete(session.digest)
            user = uow.users.get(session.user_id)
            if user:
                audit.record(uow, self._clock, user.principal(), "auth.logout", "user", user.username)
            uow.commit()

    def token_principal(self, token: str) -> Principal:
        now = self._clock.now()
        with self._uow() as uow:
            stored = uow.tokens.by_digest(token_digest(token))
            if stored is None or not stored.usable(now) or stored.id is None:
                raise AuthenticationFailed("unknown, revoked or expired API token")
            user = uow.users.get(stored.user_id)
            if user is None or not user.active:
                raise AuthenticationFailed("unknown, revoked or expired API token")
            if stored.last_used_at is None or now - stored.last_used_at > timedelta(minutes=1):
                uow.tokens.mark_used(stored.id, now)
                uow.commit()
        return user.principal(PrincipalKind.TOKEN)

    # --- administration -------------------------------------------------------------------
    def add_user(
        self,
        principal: Principal,
        username: str,
        password: str,
        roles: set[Role],
        display_name: str = "",
        language: str | None = None,
    ) -> User:
        principal.require("user:manage")
        user = User(
            id=None,
            username=check_username(username),
            display_name=display_name,
            roles=frozenset(roles),
            password_hash=hash_password(password),
            language=language,
        )
        with self._uow() as uow:
            stored = uow.users.add(user, self._clock.now())
            audit.record(uow, self._clock, principal, "user.create", "user", username, after=stored.public())
            uow.commit()
        return stored

    def ensure_user(
        self, principal: Principal, username: str, password: str, roles: set[Role], display_name: str = ""
    ) -> bool:
        """Create the user unless it exists (demo loading is idempotent); True when created."""
        with self._uow() as uow:
            if uow.users.by_name(username) is not None:
                return False
        try:
            self.add_user(principal, username, password, roles, display_name)
        except Conflict:
            return False
        return True

    def set_password(self, principal: Principal, username: str, password: str) -> None:
        if principal.actor != username:
            principal.require("user:manage")
        with self._uow() as uow:
            user = self._user(uow, username)
            uow.users.update(replace(user, password_hash=hash_password(password)))
            assert user.id is not None
            uow.sessions.delete_for_user(user.id)  # a new password ends every open session
            audit.record(uow, self._clock, principal, "user.password", "user", username)
            uow.commit()

    def set_roles(self, principal: Principal, username: str, roles: set[Role]) -> User:
        principal.require("user:manage")
        with self._uow() as uow:
            user = self._user(uow, username)
            updated = replace(user, roles=frozenset(roles))
            uow.users.update(updated)
            audit.record(
                uow,
                self._clock,
                principal,
                "user.roles",
                "user",
                username,
                before=user.public(),
                after=updated.public(),
            )
            uow.commit()
        return updated

    def issue_token(
        self, principal: Principal, username: str, name: str, expires_in: timedelta | None = None
    ) -> str:
        """A new API token for ``username``; the clear text is returned once and never stored."""
        if principal.actor != username:
            principal.require("user:manage")
        now = self._clock.now()
        clear = new_token(API_TOKEN_PREFIX)
        with self._uow() as uow:
            user = self._user(uow, username)
            assert user.id is not None
            stored = uow.tokens.add(
                ApiToken(
                    id=None,
                    user_id=user.id,
                    name=name,
                    digest=token_digest(clear),
                    created_at=now,
                    expires_at=now + expires_in if expires_in else None,
                )
            )
            audit.record(
                uow,
                self._clock,
                principal,
                "user.token.create",
                "user",
                username,
                after={"token_id": stored.id, "name": name},
            )
            uow.commit()
        return clear

    def users(self, principal: Principal) -> list[User]:
        principal.require("user:manage")
        with self._uow() as uow:
            return uow.users.list()

    def user(self, principal: Principal, username: str) -> User:
        if principal.actor != username:
            principal.require("user:manage")
        with self._uow() as uow:
            return self._user(uow, username)

    @staticmethod
    def _user(uow: UnitOfWork, username: str) -> User:
        user = uow.users.by_name(username)
        if user is None:
            raise NotFound("no user named {name}", name=username)
        return user
