"""Reliability of delivery: kill -9 the worker at random points while it delivers, then count effects.

    .venv/bin/python bench/integration_crash.py                      # 300 kills × 5,000 messages, PG
    .venv/bin/python bench/integration_crash.py --kills 20 --messages 300 --db sqlite
    .venv/bin/python bench/integration_crash.py --kills 30 --messages 1000 --runner batch

A webhook flow's messages are accepted into the outbox (PostgreSQL from scripts/throwaway-postgres,
or ``--pg-url``; ``--db sqlite`` for a SQLite file), then a worker process — forked from this one so
a restart costs no imports — delivers them to an HTTP target on loopback and is killed with SIGKILL
after a random time, ``--kills`` times; a last worker finishes the backlog. The worker's job lease is
2 s, so the jobs a dead worker held are claimed again 2 s later.

The target records every request by its ``Idempotency-Key`` and applies a key's first request only
(what the key is for): the report counts keys received (lost = messages − keys), effects applied
per key (a duplicate effect would be a key applied twice) and the redundant requests the key absorbed
(the worker died after the target answered and before the outbox committed). Then two checks on the
same target: one that fails three times then recovers gets exactly 4 attempts, and a batch with
malformed rows dead-letters them with their row numbers while the others are delivered.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LEASE_S = 2.0

FLOW = """\
flow: crash-orders
source: {{system: CRM, connector: webhook}}
target: {{system: ERP, connector: http, options: {{url: "{url}/orders"}}}}
trigger: {{webhook: true}}
mapping: {{vbeln: order_id, kunnr: cust_code, telf1: phone}}
transforms: {{telf1: {{mask: phone}}}}
validate:
  - rule: 'matches(phone, "^1\\\\d{{10}}$")'
    message: phone must be 11 digits
idempotency_key: order_id
delivery: {{attempts: 4, backoff: 100ms, max_backoff: 1s, timeout: 5s}}
"""


class Target(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self.fail_first: dict[str, int] = {}  # key → answers of 503 still to give

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Target

    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        key = self.headers.get("Idempotency-Key", "")
        try:
            complete = bool(json.loads(body))
        except ValueError:  # a worker killed while writing the request: nothing to apply
            complete = False
        with self.server.lock:
            self.server.requests[key] += 1
            failing = self.server.fail_first.get(key, 0)
            if failing:
                self.server.fail_first[key] = failing - 1
            elif self.server.applied[key] == 0 and complete:
                self.server.applied[key] += 1  # the effect: once per key
        self.send_response(503 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def worker(url: str, batch: bool = False, loop: bool = False) -> None:
    """A worker process: deliver until killed (one job per transaction, or batch delivery: many
    jobs per claim sent concurrently, outcomes written together; ``loop``: the worker's pipelined
    delivery loop, up to two batches in flight, woken by LISTEN/NOTIFY on PostgreSQL)."""
    from concurrent.futures import ThreadPoolExecutor

    from isthmus.adapters.connectors import make_target
    from isthmus.adapters.storage import Database
    from isthmus.services.clock import SystemClock
    from isthmus.services.flow_delivery import BatchDelivery
    from isthmus.services.integration import DELIVER, FlowService
    from isthmus.services.jobs import JobRunner

    db = Database(url)
    flows = FlowService(db.unit_of_work, SystemClock(), make_target)
    if batch:
        pool = ThreadPoolExecutor(8)

        def send_one(send: Any) -> Exception | None:
            try:
                send()
            except Exception as error:
                return error
            return None

        delivery = BatchDelivery(
            db.unit_of_work,
            SystemClock(),
            flows,
            f"b{os.getpid()}",
            lambda sends: list(pool.map(send_one, sends)),
            batch=50,
            lease_s=LEASE_S,
        )
        if loop:
            from isthmus.adapters.storage.wakeups import DeliveryWakeups
            from isthmus.adapters.worker import DeliveryLoop

            DeliveryLoop(delivery, DeliveryWakeups(url), pool, 0.05, depth=2).run_forever()
        while True:
            if delivery.run_due().claimed == 0:
                time.sleep(0.02)
    runner = JobRunner(db.unit_of_work, SystemClock(), {DELIVER: flows.deliver}, f"w{os.getpid()}", LEASE_S)
    while True:
        if runner.run_due(limit=10).claimed == 0:
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--runner",
        choices=["single", "batch", "both", "loop"],
        default="both",
        help="one job per transaction, batch delivery, alternate them from one life to the next, "
        "or the worker's pipelined delivery loop",
    )
    args = parser.parse_args()
    random.seed(args.seed)
    work = Path(tempfile.mkdtemp(prefix="isthmus-crash-"))
    work.chmod(0o755)
    pg_dir = work / "pg"
    started_pg = False
    if args.db == "sqlite":
        url = f"sqlite:///{work / 'isthmus.db'}"
    else:
        server = args.pg_url
        if server is None:
            server = subprocess.run(
                [str(ROOT / "scripts" / "throwaway-postgres"), "start", str(pg_dir)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            started_pg = True
        url = server.replace("postgresql://", "postgresql+psycopg://")
    target = Target()
    threading.Thread(target=target.serve_forever, daemon=True).start()
    try:
        run(args, url, target)
    finally:
        target.shutdown()
        if started_pg:
            subprocess.run([str(ROOT / "scripts" / "throwaway-postgres"), "stop", str(pg_dir)], check=False)
        shutil.rmtree(work, ignore_errors=True)


def backlog(url: str) -> int:
    from isthmus.adapters.storage import Database
    from isthmus.integration import MessageState

    db = Database(url)
    with db.unit_of_work() as uow:
        counts = uow.flows.counts("crash-orders")
    db.dispose()
    return counts.get(MessageState.PENDING, 0) + counts.get(MessageState.RETRYING, 0)


def run(args: argparse.Namespace, url: str, target: Target) -> None:
    from isthmus.adapters.connectors import make_target
    from isthmus.adapters.storage import Database
    from isthmus.integration import MessageState
    from isthmus.security import SYSTEM
    from isthmus.services.clock import SystemClock
    from isthmus.services.integration import FlowService

    db = Database(url)
    db.upgrade()
    flows = FlowService(db.unit_of_work, SystemClock(), make_target)
    flows.deploy(SYSTEM, FLOW.format(url=target.url))
    for start in range(0, args.messages, 500):
        batch = [
            {"order_id": f"SO-{i:06d}", "cust_code": f"C{i % 97}", "phone": f"138{i:08d}"}
            for i in range(start, min(args.messages, start + 500))
        ]
        flows.accept(SYSTEM, "crash-orders", batch, first_row=start + 1)
    flows.close()
    db.dispose()
    print(
        f"{args.messages:,} messages accepted; database {url.split('@')[-1]}; {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    fork = multiprocessing.get_context("fork")
    started = time.perf_counter()
    kills = during = 0
    life, alive = 0.3, 0.0
    for _ in range(args.kills):
        remaining = backlog(url)
        if remaining == 0:
            break
        before = remaining
        batched = args.runner in ("batch", "loop") or (args.runner == "both" and kills % 2 == 1)
        child = fork.Process(target=worker, args=(url, batched, args.runner == "loop"), daemon=True)
        child.start()
        lived = random.uniform(0.05, 2 * life)
        time.sleep(lived)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        kills += 1
        after = backlog(url)
        during += after < before  # this life delivered something before it was killed
        # Spread the kills over the backlog: aim each life at an equal share of what is left.
        alive += lived
        rate = max((args.messages - after) / alive, 1.0)
        left = args.kills - kills
        if left:
            life = min(3.0, max(0.01, after / left / rate))
        if kills % 25 == 0:
            print(f"  {kills} kills, backlog {after:,}", flush=True)
    killing_s = time.perf_counter() - started
    final = fork.Process(target=worker, args=(url, args.runner != "single"), daemon=True)
    final.start()
    deadline = time.monotonic() + 600
    while backlog(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert final.pid is not None
    os.kill(final.pid, signal.SIGKILL)
    final.join()
    total_s = time.perf_counter() - started

    keys = {f"SO-{i:06d}" for i in range(args.messages)}
    received = keys & set(target.requests)
    lost = len(keys - received)
    duplicate_effects = sum(n - 1 for n in target.applied.values() if n > 1)
    redundant = sum(n - 1 for k, n in target.requests.items() if k in keys and n > 1)
    db = Database(url)
    with db.unit_of_work() as uow:
        states = uow.flows.counts("crash-orders")
    db.dispose()
    print(
        f"\nkill -9 {kills} times, each with a backlog left ({during} after delivering some) in {killing_s:.0f} s; "
        f"all delivered after {total_s:.0f} s"
    )
    print(f"outbox: { ({s.value: n for s, n in states.items()}) }")
    print(
        f"target: {len(received):,} of {args.messages:,} keys received — lost {lost}; "
        f"effects applied {sum(target.applied.values()):,} — duplicate effects {duplicate_effects}; "
        f"{redundant} redundant request(s) absorbed by the Idempotency-Key"
    )
    ok = lost == 0 and duplicate_effects == 0 and states.get(MessageState.DELIVERED, 0) == args.messages
    checks(url, target)
    print("RESULT:", "0 lost, 0 duplicate effects" if ok else "FAILED")
    if not ok:
        sys.exit(1)


def checks(url: str, target: Target) -> None:
    """Fail three times then recover → 4 attempts; malformed rows → DLQ with row numbers."""
    from isthmus.adapters.connectors import make_target
    from isthmus.adapters.storage import Database
    from isthmus.integration import MessageState
    from isthmus.security import SYSTEM
    from isthmus.services.clock import SystemClock
    from isthmus.services.integration import DELIVER, FlowService
    from isthmus.services.jobs import JobRunner

    db = Database(url)
    flows = FlowService(db.unit_of_work, SystemClock(), make_target)
    target.fail_first["FLAKY-1"] = 3
    rows = [{"order_id": "FLAKY-1", "cust_code": "C1", "phone": "13800000001"}]
    rows += [
        {"order_id": f"MIX-{i}", "cust_code": "C2", "phone": "123" if i in (2, 5) else f"138000000{i:02d}"}
        for i in range(8)
    ]
    report = flows.accept(SYSTEM, "crash-orders", rows, first_row=1)
    runner = JobRunner(db.unit_of_work, SystemClock(), {DELIVER: flows.deliver}, "checks")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runner.run_until_idle()
        with db.unit_of_work() as uow:
            flaky = next(
                m
                for m in uow.flows.messages(flow_id="crash-orders", limit=100_000)
                if m.idempotency_key == "FLAKY-1"
            )
        if flaky.state is not MessageState.RETRYING and flaky.state is not MessageState.PENDING:
            break
        time.sleep(0.1)  # the backoff (100 ms, 200 ms, 400 ms) runs on the real clock here
    dead = flows.messages(SYSTEM, flow_id="crash-orders", states=(MessageState.DEAD_LETTERED,))
    mixed_ok = all(target.applied[f"MIX-{i}"] == 1 for i in range(8) if i not in (2, 5))
    print(
        f"fail 3 times then recover: {target.requests['FLAKY-1']} requests, message {flaky.state.value} "
        f"after {flaky.attempts} attempts"
    )
    print(
        f"malformed rows: rejected {report.rejected}, dead-lettered rows "
        f"{sorted(m.row_number or 0 for m in dead)} ({dead[0].last_error if dead else '-'}); "
        f"the other 6 delivered: {mixed_ok}"
    )
    flows.close()
    db.dispose()


if __name__ == "__main__":
    main()
