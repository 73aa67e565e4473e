"""Shared fixtures: real databases (SQLite files and a throwaway PostgreSQL), wired containers.

PostgreSQL: ``ISTHMUS_TEST_PG_URL`` names a server (``.ci/run`` starts one); without it the session
starts its own throwaway cluster with ``scripts/throwaway-postgres`` when the binaries exist. With
``ISTHMUS_REQUIRE_PG=1`` (CI) a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from isthmus.adapters.storage import Database, normalise_url
from isthmus.bootstrap import Container, build
from isthmus.demo.integration import SandboxApi
from isthmus.security import SYSTEM, Principal, Role
from isthmus.settings import Settings, load_settings
from isthmus.testing import FakeClock

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str | None]:
    url = os.environ.get("ISTHMUS_TEST_PG_URL")
    if url:
        yield url
        return
    script = ROOT / "scripts" / "throwaway-postgres"
    workdir = tempfile.mkdtemp(prefix="isthmus-pg-")
    Path(workdir).chmod(0o755)  # the postgres user must be able to enter it
    try:
        started = subprocess.run([str(script), "start", workdir], capture_output=True, text=True, check=False)
    except OSError:
        started = None
    if started is None or started.returncode != 0:
        yield None
        return
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(script), "stop", workdir], check=False)


def _fresh_pg_database(server: str) -> Iterator[str]:
    """A new empty database per test (dropped after): tests never see each other's rows."""
    admin = create_engine(normalise_url(server), isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_server: str | None) -> Iterator[str]:
    """Each test that takes ``db_url`` runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'isthmus.db'}"
        return
    if pg_server is None:
        if os.environ.get("ISTHMUS_REQUIRE_PG"):
            pytest.fail("ISTHMUS_REQUIRE_PG is set but no PostgreSQL could be started")
        pytest.skip("no PostgreSQL available (set ISTHMUS_TEST_PG_URL or install postgresql-15)")
    yield from _fresh_pg_database(pg_server)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'isthmus.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(tmp_path: Path, db_url: str) -> Settings:
    return load_settings(
        {
            "ISTHMUS_DATA_DIR": str(tmp_path / "data"),
            "ISTHMUS_DB_URL": db_url,
            "ISTHMUS_LANGUAGE": "zh_CN",
            "ISTHMUS_TIMEZONE": "Asia/Shanghai",
        }
    )


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def container(settings: Settings, database: Database, clock: FakeClock) -> Iterator[Container]:
    built = build(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
def admin() -> Principal:
    return SYSTEM


def principal_with(*roles: Role, actor: str = "tester") -> Principal:
    from isthmus.security import PrincipalKind

    return Principal(actor=actor, kind=PrincipalKind.USER, roles=frozenset(roles))


@pytest.fixture
def api() -> Iterator[SandboxApi]:
    """The sandbox CRM API (OAuth 2.0 token endpoint, orders) on a loopback port."""
    with SandboxApi() as server:
        yield server
