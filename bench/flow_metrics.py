"""Flow metrics at volume: ``FlowMetricsService.metrics`` (the flow page and
``GET /api/v1/flows/{id}/metrics``) and ``overview`` (table 2) over one flow's outbox of N messages.

    .venv/bin/python bench/flow_metrics.py                          # 1M messages, SQLite and a throwaway PG
    .venv/bin/python bench/flow_metrics.py --size 50000 --no-pg     # quick
    .venv/bin/python bench/flow_metrics.py --pg-url postgresql://…/postgres

The outbox is seeded directly (one INSERT … executemany per 20,000 rows, after the schema is migrated
and the flow deployed): N messages of one flow accepted evenly over the last 30 days, so the default
24 h window holds ~N/30 of them; 97 % delivered (latency 5 ms … 5 s, log-uniform), 1 % dead-lettered,
1 % pending, 1 % retrying, and one message in 1,000 a chunk of 500 rows (its key says so). Then
``ANALYZE`` (PostgreSQL: ``VACUUM ANALYZE``), as autovacuum would have done. Each call is timed
cold-ish (first) and warm (median of the next ``--repeat``), per window.

There is no peer product here: the comparison is before/after (run this script on the commit before
the metrics work for the "before" column, RESULTS.md keeps both).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import insert, text  # noqa: E402

from isthmus.adapters.storage import Database  # noqa: E402
from isthmus.adapters.storage.tables import flow_messages  # noqa: E402
from isthmus.bootstrap import build  # noqa: E402
from isthmus.integration import EXAMPLE  # noqa: E402
from isthmus.security import SYSTEM  # noqa: E402
from isthmus.settings import load_settings  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from integration import Postgres  # noqa: E402

FLOW = "crm-erp-orders"
BATCH = 20_000


def seed(url: str, size: int, now: datetime, rng: random.Random) -> None:
    db = Database(url)
    span = timedelta(days=30).total_seconds()
    rows = []
    with db.engine.begin() as conn:
        for i in range(size):
            created = now - timedelta(seconds=span * (size - i) / size)
            roll = rng.random()
            chunk = i % 1000 == 999
            key = f"chunk:{i}-{i + 499}:500:{i:08x}" if chunk else f"k{i}"
            delivered = None
            if roll < 0.97:
                state = "delivered"
                delivered = created + timedelta(
                    milliseconds=math.exp(rng.uniform(math.log(5), math.log(5000)))
                )
            elif roll < 0.98:
                state = "dead_lettered"
            elif roll < 0.99:
                state = "pending"
            else:
                state = "retrying"
            rows.append(
                {
                    "flow_id": FLOW,
                    "idempotency_key": key,
                    "state": state,
                    "payload": {"order": i},
                    "display": {"order": i},
                    "attempts": 1,
                    "last_error": None,
                    "row_number": None,
                    "created_at": created,
                    "updated_at": delivered or created,
                    "delivered_at": delivered,
                }
            )
            if len(rows) == BATCH:
                conn.execute(insert(flow_messages), rows)
                rows.clear()
        if rows:
            conn.execute(insert(flow_messages), rows)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE flow_messages"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    db.dispose()


def timed(call: object, repeat: int) -> tuple[float, float]:
    assert callable(call)
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        warm.append(time.perf_counter() - started)
    return first, statistics.median(warm)


def run(
    label: str, url: str, work: Path, size: int, windows: list[str], repeat: int
) -> list[dict[str, object]]:
    data = work / label
    data.mkdir()
    settings = load_settings({"ISTHMUS_DATA_DIR": str(data), "ISTHMUS_DB_URL": url, "HOME": str(work)})
    db = Database(url)
    db.upgrade()
    db.dispose()
    container = build(settings)
    container.flows.deploy(SYSTEM, EXAMPLE)
    started = time.perf_counter()
    seed(url, size, datetime.now(UTC), random.Random(7))
    print(f"{label}: seeded {size:,} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    found = []
    for window in windows:
        report = container.flow_metrics.metrics(SYSTEM, FLOW, window)
        first, warm = timed(lambda w=window: container.flow_metrics.metrics(SYSTEM, FLOW, w), repeat)  # type: ignore[misc]
        found.append(
            {
                "db": label,
                "call": f"metrics {window}",
                "first_s": first,
                "warm_s": warm,
                "messages": report.messages,
                "latency_sample": report.latency_sample,
                "latency_ms": report.latency_ms,
            }
        )
    first, warm = timed(lambda: container.flow_metrics.overview(SYSTEM), repeat)
    found.append({"db": label, "call": "overview (table 2)", "first_s": first, "warm_s": warm})
    container.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--windows", default="24h,7d,30d")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", help="a PostgreSQL server (default: start a throwaway one)")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    windows = args.windows.split(",")
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="isthmus-bench-metrics-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # the postgres user must be able to enter it
        results += run("sqlite", f"sqlite:///{work / 'outbox.db'}", work, args.size, windows, args.repeat)
        if not args.no_pg:
            pg = Postgres(args.pg_url, work)  # bench/integration.py's throwaway server
            try:
                url = pg.fresh("bench_metrics")
                results += run("postgresql", url, work, args.size, windows, args.repeat)
            finally:
                pg.stop()
    print(f"\n{args.size:,} messages of one flow over 30 days\n")
    print("| database | call | first (s) | warm median (s) | latency sample | p50/p95/p99 (ms) |")
    print("|---|---|---:|---:|---:|---|")
    for row in results:
        latency = row.get("latency_ms")
        shown = "/".join(f"{v:g}" for v in latency.values()) if isinstance(latency, dict) else ""
        print(
            f"| {row['db']} | {row['call']} | {row['first_s']:.3f} | {row['warm_s']:.3f} "
            f"| {row.get('latency_sample', '')} | {shown} |"
        )
    if args.json:
        print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
