"""Batch integration: a 1M-row orders CSV → mapping → upsert into SQLite and PostgreSQL, three ways.

    .venv/bin/python bench/integration.py                       # 250k, 500k and 1M rows; starts a PG
    .venv/bin/python bench/integration.py --sizes 20000 --pg-url postgresql://…/postgres

One deterministic file per size (~1 % malformed phones, ~2 % duplicate order ids). The job: validate
the phone (11 digits, else the row is rejected), map order_id→vbeln, cust_code→kunnr, amount→dmbtr
(a decimal), phone→telf1 masked (138****5678), upsert by vbeln into table ``vbak``. Each tool runs
in a child process of its own (peak RSS is that process's high-water mark), against a fresh target:

- **plain**: a plain Python script — ``csv`` module, the mapping in Python, ``executemany`` upsert
  (sqlite3; psycopg 3) in 50,000-row batches;
- **dlt** in its fastest mode: Arrow items (the file read by pyarrow's streaming CSV reader, mapped
  with Polars, yielded as Arrow tables), ``merge`` on vbeln (SQLite: the sqlalchemy destination,
  delete-insert, its default file format; PostgreSQL: the postgres destination, upsert, CSV files
  loaded with COPY);
- **isthmus**: the product path of ``isthmus flow run``: a flow (files source → sql target) deployed,
  the file pulled from its inbound folder in 50,000-row chunks mapped in FEEL batch mode, each chunk
  one outbox message + one delivery job (rejected rows dead-lettered with their row numbers; the
  chunk's rows in a claim-check file in the data dir, the message holding its name and digest),
  and a thread of the same process delivering the chunks stored meanwhile (then the rest), by bulk upsert (staged through ADBC on SQLite; on
  PostgreSQL a chunk whose key range holds no row yet is COPYed straight into the table, others
  staged by COPY and upserted; before the job's transaction opens). The outbox is on the same kind
  of database as the target (SQLite file / the PostgreSQL server). **isthmus+w**: the same with a
  worker process delivering while the file is pulled. Isthmus lines also say when the pull ended.

Every run checks the target holds exactly the expected distinct valid keys.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 50_000
PULLED: list[float] = []  # isthmus: seconds until the file was pulled (the rest is delivery)
TABLE = "CREATE TABLE vbak (vbeln TEXT PRIMARY KEY, kunnr TEXT, dmbtr TEXT, telf1 TEXT)"

FLOW = """\
flow: bench-orders
source: {{system: CRM, connector: files, options: {{folder: "{folder}"}}}}
target: {{system: ERP, connector: sql, options: {{url: "{target}", table: vbak, key: [vbeln]}}}}
trigger: {{poll: 60s}}
chunk_rows: {chunk}
mapping: {{vbeln: order_id, kunnr: cust_code, dmbtr: amount, telf1: phone}}
transforms: {{dmbtr: {{type: decimal}}, telf1: {{mask: phone}}}}
validate:
  - rule: 'matches(phone, "^1\\\\d{{10}}$")'
    message: phone must be 11 digits
idempotency_key: order_id
"""


def make_csv(path: Path, rows: int) -> int:
    """Write the orders file; returns the number of distinct valid keys it holds."""
    keys: set[int] = set()
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "cust_code", "amount", "phone"])
        for i in range(rows):
            n = i - 1 if i % 50 == 49 else i  # ~2 % duplicates
            bad = i % 100 == 7  # ~1 % malformed
            phone = "1381234" if bad else f"138{n % 100_000_000:08d}"
            writer.writerow([f"SO-{n:08d}", f"C{n % 997}", f"{(n % 100_000) / 100:.2f}", phone])
            if not bad:
                keys.add(n)
    return len(keys)


def peak_mb() -> float:
    """This process's own high-water RSS (VmHWM: ``ru_maxrss`` would include the bench harness's
    memory, inherited through fork + exec), or that of a child it ran if larger."""
    own = 0.0
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return max(own, children)


# -- the three tools (each runs in a child process) --------------------------------------------------

_PHONE = re.compile(r"^1\d{10}\Z")


def _plain_rows(csv_path: Path) -> Any:
    from decimal import Decimal

    with csv_path.open(encoding="utf-8", newline="") as handle:
        batch: list[tuple[str, str, str, str]] = []
        for r in csv.DictReader(handle):
            phone = r["phone"]
            if not _PHONE.match(phone):
                continue
            batch.append(
                (r["order_id"], r["cust_code"], str(Decimal(r["amount"])), phone[:3] + "****" + phone[7:])
            )
            if len(batch) == CHUNK:
                yield batch
                batch = []
        if batch:
            yield batch


def run_plain(csv_path: Path, target: str) -> float:
    upsert = (
        "INSERT INTO vbak (vbeln, kunnr, dmbtr, telf1) VALUES ({0}, {0}, {0}, {0}) ON CONFLICT (vbeln) "
        "DO UPDATE SET kunnr = excluded.kunnr, dmbtr = excluded.dmbtr, telf1 = excluded.telf1"
    )
    import psycopg

    started = time.perf_counter()
    if target.startswith("sqlite"):
        with sqlite3.connect(target.removeprefix("sqlite:///")) as conn:
            for batch in _plain_rows(csv_path):
                conn.executemany(upsert.format("?"), batch)
                conn.commit()
        return time.perf_counter() - started
    with psycopg.connect(_libpq(target)) as conn:
        for batch in _plain_rows(csv_path):
            with conn.cursor() as cursor:
                cursor.executemany(upsert.format("%s"), batch)
            conn.commit()
    return time.perf_counter() - started


def run_dlt(csv_path: Path, target: str, work: Path) -> float:
    import dlt
    import polars as pl
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]

    def orders() -> Any:
        reader = pacsv.open_csv(
            csv_path,
            read_options=pacsv.ReadOptions(block_size=4 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(["order_id", "cust_code", "amount", "phone"], "string")
            ),
        )
        for batch in reader:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            mapped = frame.filter(pl.col("phone").str.contains(r"^1\d{10}$")).select(
                pl.col("order_id").alias("vbeln"),
                pl.col("cust_code").alias("kunnr"),
                pl.col("amount").alias("dmbtr"),
                (pl.col("phone").str.slice(0, 3) + "****" + pl.col("phone").str.slice(7)).alias("telf1"),
            )
            yield mapped.unique(subset=["vbeln"], keep="last", maintain_order=True).to_arrow()

    if target.startswith("sqlite"):
        destination: Any = dlt.destinations.sqlalchemy(credentials=target)
        disposition: Any = {"disposition": "merge", "strategy": "delete-insert"}
    else:
        # dlt insists on a password; the throwaway cluster trusts loopback, so any will do
        with_password = (
            target
            if ":" in target.split("@")[0].removeprefix("postgresql://")
            else target.replace("@", ":bench@", 1)
        )
        destination = dlt.destinations.postgres(credentials=with_password)
        disposition = {"disposition": "merge", "strategy": "upsert"}
    pipeline = dlt.pipeline(
        pipeline_name="bench_orders", destination=destination, dataset_name="erp", pipelines_dir=str(work)
    )
    resource_ = dlt.resource(orders, name="vbak", primary_key="vbeln", write_disposition=disposition)
    started = time.perf_counter()
    # PostgreSQL: CSV files loaded by COPY, dlt's fastest format there without ADBC
    pipeline.run(resource_, loader_file_format=None if target.startswith("sqlite") else "csv")
    return time.perf_counter() - started


def run_isthmus(csv_path: Path, target: str, outbox: str, work: Path, *, alongside: bool = False) -> float:
    """``isthmus flow run``: pull with a thread delivering the chunks stored meanwhile, then deliver
    the rest. ``alongside``: a worker process delivers instead (``isthmus worker`` running beside
    ``flow run --no-deliver``)."""
    import multiprocessing

    from isthmus.adapters.connectors import make_target
    from isthmus.adapters.connectors.sources import pull
    from isthmus.adapters.storage import Database
    from isthmus.adapters.storage.chunk_files import FileChunkStore
    from isthmus.adapters.worker.alongside import running_alongside
    from isthmus.security import SYSTEM
    from isthmus.services.integration import DELIVER, FlowService
    from isthmus.services.jobs import JobRunner
    from isthmus.testing import FakeClock

    inbox = work / "inbox"
    inbox.mkdir()
    os.link(csv_path, inbox / "orders.csv")
    db = Database(outbox)
    db.upgrade()
    clock = FakeClock()
    chunks = FileChunkStore(work / "flow-chunks")  # as `isthmus serve` / `worker`: in the data dir
    flows = FlowService(db.unit_of_work, clock, make_target, chunks=chunks)
    flows.deploy(SYSTEM, FLOW.format(folder=inbox, target=target, chunk=CHUNK))
    db.dispose()
    pulled = multiprocessing.get_context("fork").Event()

    def deliver(until_pulled: bool) -> None:
        own = Database(outbox)
        service = FlowService(own.unit_of_work, clock, make_target, chunks=chunks)
        runner = JobRunner(own.unit_of_work, clock, {DELIVER: service.delivery}, f"bench-{os.getpid()}")
        while True:
            stats = runner.run_due(limit=1)
            assert stats.incidents == 0, stats
            if stats.claimed == 0:
                if not until_pulled or (pulled.is_set() and runner.run_due(limit=1).claimed == 0):
                    break
                time.sleep(0.05)
        service.close()
        own.dispose()

    started = time.perf_counter()
    worker = None
    if alongside:
        worker = multiprocessing.get_context("fork").Process(target=deliver, args=(True,))
        worker.start()
        run = pull(flows, SYSTEM, "bench-orders", cursor_dir=work / "cursors")
    else:  # as `isthmus flow run`: a thread delivers the chunks stored meanwhile
        beside = FlowService(db.unit_of_work, clock, make_target, chunks=chunks)
        runner = JobRunner(db.unit_of_work, clock, {DELIVER: beside.delivery}, "bench-run")
        with running_alongside(runner):
            run = pull(flows, SYSTEM, "bench-orders", cursor_dir=work / "cursors")
        beside.close()
    assert run.files == {"orders.csv": "processed"}, run.files
    PULLED.append(time.perf_counter() - started)
    if worker is None:
        deliver(False)
    else:
        pulled.set()
        worker.join()
        assert worker.exitcode == 0
    seconds = time.perf_counter() - started
    flows.close()
    db.dispose()
    return seconds


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    # Timed: the job itself, after imports, migrations, deploying the flow / creating the pipeline.
    if args.child == "plain":
        seconds = run_plain(Path(args.csv), args.target)
    elif args.child == "dlt":
        seconds = run_dlt(Path(args.csv), args.target, work)
    else:
        seconds = run_isthmus(
            Path(args.csv), args.target, args.outbox, work, alongside=args.child == "isthmus+w"
        )
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "pulled": PULLED[0] if PULLED else None}))


# -- the parent: files, fresh targets, the table -------------------------------------------------------


class Postgres:
    def __init__(self, url: str | None, work: Path) -> None:
        self.dir = work / "pg"
        self.started = url is None
        if url is None:
            url = subprocess.run(
                [str(ROOT / "scripts" / "throwaway-postgres"), "start", str(self.dir)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        self.url = url.replace("postgresql+psycopg://", "postgresql://")

    def fresh(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self.started:
            subprocess.run([str(ROOT / "scripts" / "throwaway-postgres"), "stop", str(self.dir)], check=False)


def count(target: str, table: str) -> int:
    if target.startswith("sqlite"):
        with sqlite3.connect(target.removeprefix("sqlite:///")) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    import psycopg

    with psycopg.connect(_libpq(target)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def run_child(
    tool: str, kind: str, csv_path: Path, work: Path, pg: Postgres | None, size: int
) -> dict[str, Any]:
    scratch = work / f"{tool}-{kind}-{size}"
    scratch.mkdir()
    outbox = ""
    if kind == "sqlite":
        target = f"sqlite:///{scratch / 'erp.db'}"
        outbox = f"sqlite:///{scratch / 'isthmus.db'}"
        table = "erp.vbak" if tool == "dlt" else "vbak"
        if tool != "dlt":
            with sqlite3.connect(scratch / "erp.db") as conn:
                conn.execute(TABLE)
    else:
        assert pg is not None
        target = pg.fresh(f"erp_{tool.replace('+', '_')}_{size}")
        table = "erp.vbak" if tool == "dlt" else "vbak"
        if tool != "dlt":
            import psycopg

            with psycopg.connect(target) as conn:
                conn.execute(TABLE)
        if tool.startswith("isthmus"):
            outbox = pg.fresh(f"isthmus_{size}").replace("postgresql://", "postgresql+psycopg://")
            target = target.replace("postgresql://", "postgresql+psycopg://")
    command = [
        sys.executable,
        __file__,
        "--child",
        tool,
        "--csv",
        str(csv_path),
        "--target",
        target,
        "--outbox",
        outbox,
        "--work",
        str(scratch),
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tool} on {kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if kind == "sqlite" and tool == "dlt":
        # dlt's sqlalchemy destination attaches the dataset as a database file of its own
        attached = next(scratch.glob("erp__erp.db"), None) or next(scratch.glob("*erp*.db"))
        result["rows"] = count(f"sqlite:///{attached}", "vbak")
    else:
        result["rows"] = count(target, table)
    shutil.rmtree(scratch, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="250000,500000,1000000")
    parser.add_argument("--targets", default="sqlite,postgresql")
    parser.add_argument("--tools", default="plain,dlt,isthmus,isthmus+w")
    parser.add_argument("--pg-url", default=None, help="a PostgreSQL server to use (else a throwaway one)")
    parser.add_argument("--child", default=None)
    parser.add_argument("--csv", default="")
    parser.add_argument("--target", default="")
    parser.add_argument("--outbox", default="")
    parser.add_argument("--work", default="")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    work = Path(tempfile.mkdtemp(prefix="isthmus-bench-integration-"))
    work.chmod(0o755)
    kinds = args.targets.split(",")
    tools = args.tools.split(",")
    pg = Postgres(args.pg_url, work) if "postgresql" in kinds else None
    print(
        f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}"
    )
    results: list[tuple[int, str, str, dict[str, Any]]] = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            csv_path = work / f"orders-{size}.csv"
            expected = make_csv(csv_path, size)
            for kind in kinds:
                for tool in tools:
                    result = run_child(tool, kind, csv_path, work, pg, size)
                    ok = (
                        "ok"
                        if result["rows"] == expected
                        else f"WRONG: {result['rows']} rows, expected {expected}"
                    )
                    results.append((size, kind, tool, result))
                    print(
                        f"{size:>9,} rows  {kind:<10} {tool:<8} {result['seconds']:7.2f} s  "
                        f"{size / result['seconds']:>9,.0f} rows/s  peak RSS {result['peak_mb']:6.0f} MB  "
                        f"{result['rows']:,} rows in target ({ok})"
                        + (f"  pulled after {result['pulled']:.2f} s" if result.get("pulled") else ""),
                        flush=True,
                    )
            csv_path.unlink()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        "\n| rows | target | plain s | dlt (Arrow) s | Isthmus s | Isthmus + worker s | dlt ÷ Isthmus (÷ +worker) "
        "| plain ÷ Isthmus (÷ +worker) | peak RSS plain / dlt / Isthmus / +worker (MB) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    table: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}
    for size, kind, tool, result in results:
        table.setdefault((size, kind), {})[tool] = result
    for (size, kind), by_tool in table.items():
        print(_table_row(size, kind, by_tool))


def _table_row(size: int, kind: str, by_tool: dict[str, dict[str, Any]]) -> str:
    def s(t: str) -> str:
        return f"{by_tool[t]['seconds']:.2f}" if t in by_tool else "–"

    def ratio(t: str, over: str) -> str:
        if t not in by_tool or over not in by_tool:
            return "–"
        return f"{by_tool[t]['seconds'] / by_tool[over]['seconds']:.1f}×"

    tools = ("plain", "dlt", "isthmus", "isthmus+w")
    mem = " / ".join(f"{by_tool[t]['peak_mb']:.0f}" if t in by_tool else "–" for t in tools)
    return (
        f"| {size:,} | {kind} | {s('plain')} | {s('dlt')} | {s('isthmus')} | {s('isthmus+w')} | "
        f"{ratio('dlt', 'isthmus')} / {ratio('dlt', 'isthmus+w')} | "
        f"{ratio('plain', 'isthmus')} / {ratio('plain', 'isthmus+w')} | {mem} |"
    )


if __name__ == "__main__":
    main()
