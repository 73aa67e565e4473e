"""Crash test: kill -9 a worker at random points while it runs engine steps, then check that every
instance ends as the model dictates and no service-task effect happened twice.

    .venv/bin/python bench/engine_crash.py                          # 2,000 instances, 100 kills (SQLite)
    .venv/bin/python bench/engine_crash.py --db postgresql://… --instances 2000 --kills 100
    .venv/bin/python bench/engine_crash.py --instances 40 --kills 3  # the size the test suite runs

The model: reserve stock (service, ``isthmus:async``: always a job) → parallel: notify finance
(send), book revenue (service) → end. With ``--service-tasks inline`` (the default) the workers
register the handler inline, so notify and book run inside the step of the reserve job (a kill there
rolls the whole step back); with ``jobs`` every task is a job of its own.
Every handler writes its effect to a ledger keyed by the request's idempotency key (INSERT, a
duplicate key is a repeated effect); a worker killed after the call and before its commit makes the
next worker call again with the same key, which the ledger must absorb: effects == calls that
committed, never two effects for one key. Exit code 0 when every check passes.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MODEL = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
             xmlns:isthmus="https://isthmus.dev/schema/bpmn" id="crash-definitions" targetNamespace="https://isthmus.dev/bench">
  <process id="crash" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="reserve"/>
    <serviceTask id="reserve" isthmus:async="true"><extensionElements><zeebe:taskDefinition type="crash.effect"/></extensionElements></serviceTask>
    <sequenceFlow id="f2" sourceRef="reserve" targetRef="fork"/>
    <parallelGateway id="fork"/>
    <sequenceFlow id="f3" sourceRef="fork" targetRef="notify"/>
    <sequenceFlow id="f4" sourceRef="fork" targetRef="book"/>
    <sendTask id="notify"><extensionElements><zeebe:taskDefinition type="crash.effect"/></extensionElements></sendTask>
    <serviceTask id="book"><extensionElements><zeebe:taskDefinition type="crash.effect"/></extensionElements></serviceTask>
    <sequenceFlow id="f5" sourceRef="notify" targetRef="join"/>
    <sequenceFlow id="f6" sourceRef="book" targetRef="join"/>
    <parallelGateway id="join"/>
    <sequenceFlow id="f7" sourceRef="join" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>
"""
EXPECTED = ["start", "reserve", "fork", "notify", "book", "join", "end"]
SERVICE_NODES = 3


def _container(db: str, data: Path) -> Any:
    from isthmus.bootstrap import build
    from isthmus.settings import load_settings

    return build(
        load_settings({"ISTHMUS_DATA_DIR": str(data), "ISTHMUS_DB_URL": db, "ISTHMUS_LOG_LEVEL": "ERROR"})
    )


def _ledger(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT NOT NULL)")
    return db


def worker(db: str, data: Path, ledger_path: Path, batch: int, inline: bool) -> None:
    """Run jobs until none is due; the parent kills this process at random points. ``batch`` > 0:
    the production worker's runner (``Container.job_runner``: many instances' steps per commit),
    else one job per transaction."""
    from isthmus.services.jobs import JobRunner, Runner

    ledger = _ledger(ledger_path)

    def effect(request: Any) -> Mapping[str, Any]:
        ledger.execute("INSERT INTO calls (key) VALUES (?)", (request.idempotency_key,))
        # idempotent on the key: a repeated call after a crash adds no second effect
        ledger.execute("INSERT OR IGNORE INTO effects (key, n) VALUES (?, 1)", (request.idempotency_key,))
        return {request.node_id: True}

    container = _container(db, data)
    container.engine.handlers.register("crash.effect", effect, inline=inline)
    runner: Runner
    if batch > 0:
        runner = container.job_runner(f"crash-{os.getpid()}", batch=batch, lease_s=1.0)
    else:
        runner = JobRunner(
            container.database.unit_of_work,
            container.clock,
            container.job_handlers,
            f"crash-{os.getpid()}",
            lease_s=1.0,
        )
    print("ready", flush=True)  # the parent times its kill from here, not from the process start
    while True:
        stats = runner.run_until_idle()
        if stats.claimed == 0:
            with container.database.unit_of_work() as uow:
                due = uow.jobs.next_due()
            if due is None:
                return
            time.sleep(0.2)  # a killed worker's lease runs out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="database URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--batch",
        type=int,
        default=50,
        help="every other worker runs batches of this many instances per commit (0: never)",
    )
    parser.add_argument(
        "--service-tasks",
        choices=("inline", "jobs"),
        default="inline",
        help="inline: the workers run notify and book inside the reserve job's step; jobs: each a job",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--ledger", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.db, Path(args.data), Path(args.ledger), args.batch, args.service_tasks == "inline")
        return 0
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="isthmus-crash-"))
    db = args.db or f"sqlite:///{tmp / 'isthmus.db'}"
    from isthmus.adapters.storage import Database
    from isthmus.security import SYSTEM

    database = Database(db)
    database.upgrade()
    database.dispose()
    container = _container(db, tmp)
    container.models.deploy(SYSTEM, MODEL, "crash.bpmn")
    ids: list[str] = []
    for start in range(0, args.instances, 200):
        batch = [({"n": i}, f"C-{i}") for i in range(start, min(start + 200, args.instances))]
        ids += [i.id for i in container.engine.start_many(SYSTEM, "crash", batch)]
    ledger_path = tmp / "ledger.db"
    _ledger(ledger_path).close()
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--db",
        db,
        "--data",
        str(tmp),
        "--ledger",
        str(ledger_path),
        "--service-tasks",
        args.service_tasks,
    ]
    began = time.perf_counter()
    kills = 0
    while kills < args.kills:
        # alternate the one-job-per-transaction runner and the batch runner
        proc = subprocess.Popen(
            [*command, "--batch", str(args.batch if kills % 2 else 0)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # "ready": start-up (imports, models) is over, the worker is running jobs
        time.sleep(rng.uniform(0.0, 0.6))  # somewhere in the middle of a step or a batch
        if proc.poll() is not None:
            break  # finished before we could kill it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    subprocess.run([*command, "--batch", str(args.batch)], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - began
    return _verify(container, ids, ledger_path, kills, elapsed)


def _verify(container: Any, ids: list[str], ledger_path: Path, kills: int, elapsed: float) -> int:
    from isthmus.security import SYSTEM

    problems: list[str] = []
    for instance_id in ids:
        view = container.engine.show(SYSTEM, instance_id)
        path = view.completed_activities
        if view.state != "completed" or sorted(path) != sorted(EXPECTED) or path[:3] != EXPECTED[:3]:
            problems.append(f"{instance_id}: {view.state} {path}")
    ledger = _ledger(ledger_path)
    effects = ledger.execute("SELECT count(*) FROM effects").fetchone()[0]
    calls = ledger.execute("SELECT count(*) FROM calls").fetchone()[0]
    if effects != len(ids) * SERVICE_NODES:
        problems.append(f"{effects} effects, expected {len(ids) * SERVICE_NODES}")
    print(
        f"{len(ids)} instances, {kills} kills, {calls} service calls, {effects} effects "
        f"({calls - effects} repeated calls absorbed by idempotency keys), {elapsed:.1f} s; "
        f"{len(problems)} problem(s)"
    )
    for problem in problems[:20]:
        print("  " + problem)
    container.close()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
