"""Integration throughput: orders CSV → FEEL mapping → outbox → delivery into SQLite (upsert by key).

    .venv/bin/python bench/integration.py --rows 1000000 --outbox-rows 20000

Three measurements on one deterministic file (~1 % malformed rows, ~2 % duplicates):
1. mapping only: the file read in chunks and mapped in FEEL batch mode (rows/s, peak RSS);
2. end to end: the first ``--outbox-rows`` rows through the outbox (one message + one delivery job
   each, as the product runs today) into a SQLite target (rows/s);
3. a plain Python script (csv + executemany upsert) on the whole file, the floor to compare with.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

from isthmus.adapters.connectors.files import FilesConfig, read_chunks
from isthmus.adapters.storage import Database
from isthmus.integration import FlowMapper, MappedRecord, parse_flow
from isthmus.security import SYSTEM
from isthmus.services.integration import DELIVER, FlowService
from isthmus.services.jobs import JobRunner
from isthmus.testing import FakeClock

FLOW = """\
flow: bench-orders
source: {{system: CRM, connector: files, options: {{folder: "{folder}"}}}}
target: {{system: ERP, connector: sql, options: {{url: "sqlite:///{target}", table: vbak, key: [vbeln]}}}}
mapping: {{vbeln: order_id, kunnr: cust_code, dmbtr: amount, telf1: phone}}
transforms: {{dmbtr: {{type: decimal}}, telf1: {{mask: phone}}}}
validate:
  - rule: 'matches(phone, "^1\\\\d{{10}}$")'
    message: phone must be 11 digits
idempotency_key: order_id
"""


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "cust_code", "amount", "phone"])
        for i in range(rows):
            n = i - 1 if i % 50 == 49 else i  # ~2 % duplicates
            phone = "1381234" if i % 100 == 7 else f"138{n % 100_000_000:08d}"  # ~1 % malformed
            writer.writerow([f"SO-{n:08d}", f"C{n % 997}", f"{(n % 100_000) / 100:.2f}", phone])


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_mapping(flow_text: str, csv_path: Path) -> tuple[float, int]:
    mapper = FlowMapper(parse_flow(flow_text))
    config = FilesConfig(folder=str(csv_path.parent), chunk_rows=50_000)
    started, ok = time.perf_counter(), 0
    for first, frame in read_chunks(csv_path, config):
        ok += sum(isinstance(r, MappedRecord) for r in mapper.map_frame(frame, first))
    return time.perf_counter() - started, ok


def bench_outbox(flow_text: str, csv_path: Path, rows: int, work: Path) -> float:
    db = Database(f"sqlite:///{work / 'isthmus.db'}")
    db.upgrade()
    clock = FakeClock()
    from isthmus.adapters.connectors import make_target

    flows = FlowService(db.unit_of_work, clock, make_target)
    flows.deploy(SYSTEM, flow_text)
    config = FilesConfig(folder=str(csv_path.parent), chunk_rows=5_000)
    started, seen = time.perf_counter(), 0
    for first, frame in read_chunks(csv_path, config):
        flows.accept_frame(SYSTEM, "bench-orders", frame.head(rows - seen), first_row=first)
        seen += min(frame.height, rows - seen)
        if seen >= rows:
            break
    JobRunner(db.unit_of_work, clock, {DELIVER: flows.deliver}, "bench").run_until_idle()
    elapsed = time.perf_counter() - started
    flows.close()
    db.dispose()
    return elapsed


def bench_plain(csv_path: Path, target: Path) -> float:
    started = time.perf_counter()
    with sqlite3.connect(target) as conn, csv_path.open(encoding="utf-8") as handle:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS plain (vbeln TEXT PRIMARY KEY, kunnr TEXT, dmbtr TEXT, telf1 TEXT)"
        )
        rows = (
            (r["order_id"], r["cust_code"], r["amount"], r["phone"][:3] + "****" + r["phone"][7:])
            for r in csv.DictReader(handle)
            if len(r["phone"]) == 11
        )
        conn.executemany(
            "INSERT INTO plain VALUES (?, ?, ?, ?) ON CONFLICT (vbeln) DO UPDATE SET kunnr = excluded.kunnr",
            rows,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--outbox-rows", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="isthmus-bench-"))
    csv_path = work / "in" / "orders.csv"
    csv_path.parent.mkdir()
    make_csv(csv_path, args.rows)
    target = work / "erp.db"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE vbak (vbeln TEXT PRIMARY KEY, kunnr TEXT, dmbtr TEXT, telf1 TEXT)")
    flow_text = FLOW.format(folder=csv_path.parent, target=target)
    plain_s = bench_plain(csv_path, target)
    print(f"plain csv+executemany, {args.rows:,} rows: {plain_s:.1f} s, {args.rows / plain_s:,.0f} rows/s")
    mapping_s, ok = bench_mapping(flow_text, csv_path)
    print(
        f"FEEL batch mapping, {args.rows:,} rows ({ok:,} valid): {mapping_s:.1f} s, "
        f"{args.rows / mapping_s:,.0f} rows/s, peak RSS {peak_mb():.0f} MB"
    )
    outbox_s = bench_outbox(flow_text, csv_path, args.outbox_rows, work)
    print(
        f"outbox end to end (accept + one job per message + upsert), {args.outbox_rows:,} rows: "
        f"{outbox_s:.1f} s, {args.outbox_rows / outbox_s:,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
