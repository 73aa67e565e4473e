"""Benchmark: publishing a message by correlation key to one of N waiting instances.

    .venv/bin/python bench/engine_messages.py                         # N = 1,000 and 10,000 on SQLite
    .venv/bin/python bench/engine_messages.py --sizes 1000 --pg postgresql://…

Isthmus: ``EngineService.publish(name, key)`` finds the waiting instance through the
``message_subscriptions`` (name, key) index and steps it — one transaction per message.
Peer ("scan"): what correlation without a subscription table costs — read every active instance,
load its state and look for a token waiting for the message whose key variable matches, then step
that instance with ``EngineService.correlate``. Both deliver the same messages to the same
instances; the script checks it. Printed: ms per message for each and the ratio scan / Isthmus.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MODEL = Path(__file__).resolve().parents[1] / "tests" / "engine" / "data" / "correlation.bpmn"
MESSAGES = 100


def _container(db: str, data: Path) -> Any:
    from isthmus.adapters.storage import Database
    from isthmus.bootstrap import build
    from isthmus.settings import load_settings

    database = Database(db)
    database.upgrade()
    database.dispose()
    return build(load_settings({"ISTHMUS_DATA_DIR": str(data), "ISTHMUS_DB_URL": db}))


def _scan_correlate(container: Any, principal: Any, name: str, key: str) -> str | None:
    from isthmus.engine import Wait, load_state

    with container.database.unit_of_work() as uow:
        candidates = uow.instances.list(status="active", definition_key="correlation", limit=10_000_000)
    for record in candidates:
        state = load_state(record.state)
        if state.variables.get("order_id") != key:
            continue
        if any(t.wait is Wait.MESSAGE and t.node == "ship" for t in state.tokens):
            container.engine.correlate(principal, record.id, name, {"carrier": "SF"})
            return str(record.id)
    return None


def bench(db: str, n: int, data: Path) -> dict[str, float]:
    from isthmus.security import SYSTEM

    container = _container(db, data)
    try:
        container.models.deploy(SYSTEM, MODEL.read_bytes(), "correlation.bpmn")
        started = container.engine.start_many(
            SYSTEM, "correlation", [({"order_id": f"SO-{i}"}, f"BK-{i}") for i in range(n)]
        )
        ids = {f"SO-{i}": s.id for i, s in enumerate(started)}
        step = max(1, n // (2 * MESSAGES))
        keyed = [f"SO-{i}" for i in range(0, n, step)][: 2 * MESSAGES]
        by_index, by_scan = keyed[0::2], keyed[1::2]

        t0 = time.perf_counter()
        for key in by_index:
            result = container.engine.publish(SYSTEM, "shipped", key, {"carrier": "SF"})
            assert result.correlated == [ids[key]], (key, result)
        indexed = (time.perf_counter() - t0) / len(by_index)

        t0 = time.perf_counter()
        for key in by_scan:
            assert _scan_correlate(container, SYSTEM, "shipped", key) == ids[key]
        scanned = (time.perf_counter() - t0) / len(by_scan)
    finally:
        container.close()
    return {"waiting": n, "index_ms": indexed * 1000, "scan_ms": scanned * 1000, "ratio": scanned / indexed}


@contextlib.contextmanager
def _fresh_database(server: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from isthmus.adapters.storage import normalise_url

    admin = create_engine(normalise_url(server), isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--pg", help="a PostgreSQL server URL: each run gets a fresh database on it")
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, float]]] = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(("sqlite", bench(f"sqlite:///{tmp}/bench.db", n, Path(tmp) / "data")))
        if args.pg:
            with tempfile.TemporaryDirectory() as tmp, _fresh_database(args.pg) as url:
                rows.append(("postgresql", bench(url, n, Path(tmp) / "data")))
    print(
        "| database | waiting instances | publish by key (index), ms/message | scan, ms/message | scan / index |"
    )
    print("|---|---:|---:|---:|---:|")
    for db, r in rows:
        print(
            f"| {db} | {r['waiting']:,.0f} | {r['index_ms']:.1f} | {r['scan_ms']:.1f} | {r['ratio']:.0f}× |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
