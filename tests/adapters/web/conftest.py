"""Fixtures of the web page tests: the real app (``create_app``) on the ``container`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.demo import DEMO_USERS, load_demo
from isthmus.security import SYSTEM
from tests.adapters.web.web_client import TestClient


@pytest.fixture
def demo_users(container: Container) -> None:
    for user in DEMO_USERS:
        container.accounts.ensure_user(SYSTEM, user.username, user.password, {user.role}, user.display_name)


@pytest.fixture
def demo_processes(container: Container, demo_users: None) -> None:
    load_demo(SYSTEM, container.catalog, container.accounts)


@pytest.fixture
def client(container: Container, demo_users: None) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://testserver") as test_client:
        yield test_client
