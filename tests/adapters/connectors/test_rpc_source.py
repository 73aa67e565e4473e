"""JSON-RPC and XML-RPC sources: Odoo's ``search_read`` in (write_date, id) order against loopback
servers, and a scheduled flow pulling from one with the credentials from the systems registry."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from isthmus.adapters.connectors.sources import rpc_source
from isthmus.bootstrap import Container
from isthmus.errors import ConfigurationError
from isthmus.integration import SystemKind, TargetRejected, TargetUnavailable
from isthmus.security import SYSTEM
from isthmus.testing import FakeClock
from tests.adapters.connectors.odoo_servers import FakeOdoo, JsonRpcServer, OdooFault, XmlRpcServer

Server = JsonRpcServer | XmlRpcServer


@pytest.fixture(params=["jsonrpc", "xmlrpc"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, Server]]:
    kind = str(request.param)
    with JsonRpcServer() if kind == "jsonrpc" else XmlRpcServer() as running:
        yield kind, running


def options(kind: str, server: Server, **extra: Any) -> dict[str, Any]:
    return {
        "url": f"{server.url}/jsonrpc" if kind == "jsonrpc" else server.url,
        "auth": "odoo",
        "database": FakeOdoo.DB,
        "username": FakeOdoo.USER,
        "password": FakeOdoo.PASSWORD,
        "model": "account.move.line",
    } | extra


def read_all(
    kind: str, server: Server, after: Any = None, **extra: Any
) -> tuple[list[list[dict[str, Any]]], Any]:
    source = rpc_source(kind, options(kind, server, **extra), 5.0)
    batches = [records for _, records in source.batches(after=after)]
    source.close()
    return batches, source.last_watermark


def test_rows_sharing_a_write_date_across_batches_are_read_once(server: tuple[str, Server]) -> None:
    kind, running = server
    odoo = running.odoo
    for i, stamp in enumerate(["10:00", "10:05", "10:05", "10:05", "10:09"], start=1):
        odoo.add_line(f"L{i}", i * 1.5, f"2024-06-01 {stamp}:00")
    batches, mark = read_all(kind, running, batch_rows=2)
    assert [[r["name"] for r in b] for b in batches] == [["L1", "L2"], ["L3", "L4"], ["L5"]]
    assert mark == {"value": "2024-06-01 10:09:00", "id": 5}
    odoo.add_line("L6", 9.0, "2024-06-01 10:09:00")  # same stamp as the last one read, higher id
    odoo.add_line("L7", 9.0, "2024-06-01 11:00:00")
    again, mark = read_all(kind, running, after=mark, batch_rows=2)
    assert [[r["name"] for r in b] for b in again] == [["L6", "L7"]]
    assert read_all(kind, running, after=mark)[0] == []


def test_odoo_values_become_tabular(server: tuple[str, Server]) -> None:
    kind, running = server
    running.odoo.add_line("L1", 1.0, "2024-06-01 10:00:00", partner_id=[42, "华通科技"], ref="INV-1")
    running.odoo.add_line("L2", 2.0, "2024-06-01 10:01:00", paid=True)
    [[one, two]], _ = read_all(kind, running, fields=["name", "partner_id", "ref", "paid"])
    assert one == {
        "name": "L1",
        "partner_id": 42,
        "ref": "INV-1",
        "paid": False,
        "write_date": "2024-06-01 10:00:00",
        "id": 1,
    }
    assert (two["partner_id"], two["ref"], two["paid"]) == (None, None, True)
    assert running.odoo.reads[0]["order"] == "write_date asc, id asc"


def test_a_domain_filters_and_faults_are_classified(server: tuple[str, Server]) -> None:
    kind, running = server
    running.odoo.add_line("small", 1.0, "2024-06-01 10:00:00")
    running.odoo.add_line("big", 500.0, "2024-06-01 10:01:00")
    [[only]], _ = read_all(kind, running, domain=[["amount", ">", 100]])
    assert only["name"] == "big"
    running.odoo.faults.append(OdooFault("odoo.exceptions.AccessError", "no read"))  # at fields_get
    with pytest.raises(TargetRejected, match="no read"):
        read_all(kind, running)
    source = rpc_source(kind, options(kind, running), 5.0)
    batches = source.batches()
    running.odoo.faults.append(
        OdooFault("psycopg2.errors.SerializationFailure", "could not serialize access")
    )
    with pytest.raises(TargetUnavailable):  # a database conflict at the ERP: worth another try
        next(batches)
    source.close()


def test_a_source_must_be_odoo_style(server: tuple[str, Server]) -> None:
    kind, running = server
    with pytest.raises(ConfigurationError, match="auth"):
        rpc_source(kind, options(kind, running, auth="basic"), 5.0)
    with pytest.raises(ConfigurationError, match="batch_rows"):
        rpc_source(kind, options(kind, running, batch_rows="many"), 5.0)


FLOW = """\
flow: odoo-fic
source:
  system: Odoo
  connector: {kind}
  options: {{model: account.move.line, fields: [name, amount], batch_rows: 2}}
target:
  system: FIC
  connector: sql
  options: {{url: "sqlite:///{db}", table: fic, key: [belnr]}}
trigger: {{poll: 10m}}
mapping: {{belnr: name, amount: amount}}
idempotency_key: name
"""


def test_a_scheduled_flow_pulls_with_the_registrys_credentials(
    container: Container, clock: FakeClock, tmp_path: Path
) -> None:
    db = tmp_path / "fic.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE fic (belnr TEXT PRIMARY KEY, amount TEXT)")
    with XmlRpcServer() as running:
        container.systems.register(
            SYSTEM,
            "Odoo",
            SystemKind.ERP,
            settings={"url": running.url, "auth": "odoo", "database": FakeOdoo.DB, "username": FakeOdoo.USER},
            credentials={"password": FakeOdoo.PASSWORD},
        )
        container.flows.deploy(SYSTEM, FLOW.format(kind="xmlrpc", db=db.as_posix()), "odoo-fic.yaml")
        for i in range(1, 4):
            running.odoo.add_line(f"INV-{i}", i * 10.0, f"2024-06-01 10:0{i}:00")
        runner = container.job_runner("w1")
        clock.advance(minutes=10)
        runner.run_until_idle()
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT belnr FROM fic ORDER BY belnr").fetchall() == [
                ("INV-1",),
                ("INV-2",),
                ("INV-3",),
            ]
        running.odoo.add_line("INV-4", 40.0, "2024-06-01 10:09:00")
        clock.advance(minutes=10)
        runner.run_until_idle()
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM fic").fetchone() == (4,)
        assert running.odoo.logins == 2  # one session per scheduled run
        assert running.odoo.returned == 4  # the second run resumed after INV-3: nothing read twice
