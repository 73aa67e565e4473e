"""Sign-in, throttling, session timeouts, API tokens and least-privilege roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from isthmus.bootstrap import Container
from isthmus.errors import AuthenticationFailed, InvalidInput, PermissionDenied, Throttled
from isthmus.security import SYSTEM, Role
from isthmus.testing import FakeClock
from tests.conftest import principal_with


def _alice(container: Container) -> None:
    container.accounts.add_user(SYSTEM, "alice", "correct horse battery", {Role.PROCESS_OWNER}, "张三")


def test_password_sign_in_gives_a_session_with_csrf_token(container: Container) -> None:
    _alice(container)
    signed = container.accounts.login("alice", "correct horse battery", "127.0.0.1")
    principal, session = container.accounts.session_principal(signed.cookie)
    assert principal.actor == "alice"
    assert principal.roles == frozenset({Role.PROCESS_OWNER})
    assert session.csrf_token == signed.csrf_token
    assert signed.cookie not in repr(session)  # only the digest is stored


def test_wrong_password_and_unknown_user_fail_alike_and_are_audited(container: Container) -> None:
    _alice(container)
    for name in ("alice", "mallory"):
        with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
            container.accounts.login(name, "guess", "10.0.0.9")
    assert container.audit.search(SYSTEM, action="auth.login_failed")[1] == 2


def test_failures_are_throttled_per_user_even_with_the_right_password(
    container: Container, clock: FakeClock
) -> None:
    _alice(container)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            container.accounts.login("alice", "nope", "10.0.0.1")
    with pytest.raises(Throttled) as caught:
        container.accounts.login("alice", "correct horse battery", "10.0.0.1")
    assert caught.value.retry_after_s == 900
    clock.advance(minutes=16)
    assert container.accounts.login("alice", "correct horse battery", "10.0.0.1").user.username == "alice"


def test_sessions_expire_when_idle_and_absolutely(container: Container, clock: FakeClock) -> None:
    _alice(container)
    cookie = container.accounts.login("alice", "correct horse battery", "127.0.0.1").cookie
    clock.advance(minutes=29)
    container.accounts.session_principal(cookie)
    clock.advance(minutes=29)
    container.accounts.session_principal(cookie)  # activity keeps it alive
    clock.advance(minutes=31)
    with pytest.raises(AuthenticationFailed, match="expired"):
        container.accounts.session_principal(cookie)
    cookie = container.accounts.login("alice", "correct horse battery", "127.0.0.1").cookie
    for _ in range(24):  # 24 × 29 min = 11 h 36 min of steady activity: still alive
        clock.advance(minutes=29)
        container.accounts.session_principal(cookie)
    clock.advance(minutes=29)  # past the 12-hour absolute limit, however active
    with pytest.raises(AuthenticationFailed, match="expired"):
        container.accounts.session_principal(cookie)


def test_logout_and_password_change_end_sessions(container: Container) -> None:
    _alice(container)
    first = container.accounts.login("alice", "correct horse battery", "127.0.0.1").cookie
    second = container.accounts.login("alice", "correct horse battery", "127.0.0.1").cookie
    container.accounts.logout(first)
    with pytest.raises(AuthenticationFailed):
        container.accounts.session_principal(first)
    container.accounts.set_password(SYSTEM, "alice", "a new long password")
    with pytest.raises(AuthenticationFailed):
        container.accounts.session_principal(second)


def test_api_tokens_are_stored_hashed_and_can_expire(container: Container, clock: FakeClock) -> None:
    _alice(container)
    token = container.accounts.issue_token(SYSTEM, "alice", "ci", timedelta(days=1))
    assert token.startswith("ist_")
    assert container.accounts.token_principal(token).actor == "alice"
    with container.database.engine.connect() as conn:
        stored = conn.execute(text("SELECT digest FROM api_tokens")).scalar_one()
    assert token not in stored
    clock.advance(days=2)
    with pytest.raises(AuthenticationFailed):
        container.accounts.token_principal(token)


def test_short_passwords_and_bad_names_are_refused(container: Container) -> None:
    with pytest.raises(InvalidInput, match="at least 8"):
        container.accounts.add_user(SYSTEM, "bob", "short", {Role.VIEWER})
    with pytest.raises(InvalidInput, match="user name"):
        container.accounts.add_user(SYSTEM, "bad name!", "long enough pw", {Role.VIEWER})


def test_only_user_managers_manage_users(container: Container) -> None:
    with pytest.raises(PermissionDenied) as caught:
        container.accounts.add_user(principal_with(Role.PROCESS_OWNER), "eve", "long enough pw", {Role.ADMIN})
    assert caught.value.permission == "user:manage"
