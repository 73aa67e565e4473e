"""Benchmark: the demo process SAL-ORD-001 on the Isthmus engine (SQLite and PostgreSQL), and the
same model shape on SpiffWorkflow 3.2.0 (bench-only, not in the lock; skipped when missing).

    .venv/bin/python bench/engine.py                       # 10,000 instances on SQLite (+ PG when given)
    .venv/bin/python bench/engine.py --pg postgresql://…   # also on PostgreSQL
    .venv/bin/python bench/engine.py --instances 1000 --spiff 200
    .venv/bin/python bench/engine.py --interpreter-only --instances 2000 --spiff 500 --repeat 3

Isthmus, end to end through the public services: ``EngineService.start_many`` starts a batch of
instances in one commit, ``TaskService.complete_many`` completes the users' tasks (form validation,
candidates and four-eyes checked as in the browser). The service tasks (the ERP stock check,
finance notification, stock reservation) run inline in the step that reaches them, as the demo
registers its handlers (``--service-tasks inline``, the default), or as jobs that ``BatchRunner``
runs in batches of one job per instance (``--service-tasks jobs``). Step latency = the wall time of the transaction that
carried the step. State size = the stored JSON state of a completed instance.

CPU per instance (engine only, no database) compares the interpreter — the DMN decision
evaluated by ``isthmus.decisions``, the state dumped to JSON and loaded back at every wait state —
with SpiffWorkflow running the same shape (business rule as a Python script task), serialized with
its ``BpmnWorkflowSerializer`` at every wait state.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "isthmus" / "demo"
BATCH = 200


def _amount(rng: random.Random) -> int:
    return rng.choice((8_000, 30_000, 75_000, 150_000))


@contextmanager
def _timed(latencies: list[float], steps: int) -> Iterator[None]:
    began = time.perf_counter()
    yield
    latencies.extend([time.perf_counter() - began] * steps)


def _container(db: str, data: Path, service_tasks: str = "inline") -> Any:
    """``service_tasks``: ``inline`` as the demo deploys its handlers (run in the step that reaches
    the task), ``jobs`` with every demo handler registered as a job instead."""
    from isthmus.bootstrap import build
    from isthmus.demo.service_handlers import register_demo_handlers
    from isthmus.settings import load_settings

    container = build(load_settings({"ISTHMUS_DATA_DIR": str(data), "ISTHMUS_DB_URL": db}))
    register_demo_handlers(container.engine.handlers, inline=service_tasks == "inline")
    return container


def _principals() -> tuple[Any, Any]:
    from isthmus.security import Principal, PrincipalKind, Role

    rep = Principal(
        "bench-rep", PrincipalKind.USER, frozenset({Role.USER_REPRESENTATIVE, Role.PROCESS_OWNER})
    )
    return rep, Principal("bench-approver", PrincipalKind.USER, frozenset({Role.APPROVER}))


def _prepared(db: str, data: Path, service_tasks: str) -> Any:
    from isthmus.adapters.storage import Database
    from isthmus.demo import deploy_demo_decisions, deploy_demo_processes
    from isthmus.security import SYSTEM

    database = Database(db)
    database.upgrade()
    database.dispose()
    container = _container(db, data, service_tasks)
    deploy_demo_decisions(SYSTEM, container.decisions)
    deploy_demo_processes(SYSTEM, container.models)
    return container


def _result(
    container: Any, ids: list[str], n: int, wall: float, cpu: float, latencies: list[float]
) -> dict[str, Any]:
    with container.database.unit_of_work() as uow:
        done = [uow.instances.get(i) for i in ids[:: max(1, n // 500)]]
    completed = sum(1 for i in done if i is not None and i.status == "completed")
    state_bytes = statistics.mean(
        len(json.dumps(i.state, separators=(",", ":"))) for i in done if i is not None
    )
    container.close()
    latencies.sort()
    return {
        "instances": n,
        "completed_sampled": f"{completed}/{len(done)}",
        "wall_s": wall,
        "instances_per_s": n / wall,
        "cpu_ms_per_instance": cpu * 1000 / n,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "state_bytes": state_bytes,
    }


def bench_isthmus(
    db: str, n: int, data: Path, workers: int = 0, batch: int = BATCH, service_tasks: str = "inline"
) -> dict[str, Any]:
    """``workers`` = 0: this process starts instances, completes tasks and runs the jobs (the
    worker's runner, ``Container.job_runner``) in turn, batch after batch. ``workers`` > 0: that
    many processes do the same, each for its share of the instances, at the same time; their
    runners share the jobs through ``FOR UPDATE SKIP LOCKED`` claims."""
    if workers > 0:
        return _bench_processes(db, n, data, workers, batch, service_tasks)
    container = _prepared(db, data, service_tasks)
    # what a long-running worker does after start-up: the parsed models, grammars and SQL metadata
    # of start-up are never garbage, keep the collector from walking them again and again
    gc.collect()
    gc.freeze()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ids, latencies = _lane(container, 0, 0, n, batch)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    gc.unfreeze()
    return _result(container, ids, n, wall, cpu, latencies)


def _lane(container: Any, lane: int, offset: int, n: int, batch: int) -> tuple[list[str], list[float]]:
    """Instances ``offset`` … ``offset + n - 1``: start a batch, complete its tasks, run the jobs."""
    rep, boss = _principals()
    runner = container.job_runner(f"bench-{lane}", batch=batch)
    rng = random.Random(1 + lane)
    latencies: list[float] = []
    ids: list[str] = []
    for first in range(offset, offset + n, batch):
        size = min(batch, offset + n - first)
        with _timed(latencies, size):
            started = container.engine.start_many(
                rep, "SAL-ORD-001", [({}, f"SO-{first + i}") for i in range(size)]
            )
        batch_ids = [s.id for s in started]
        ids += batch_ids
        _complete_all(
            container,
            rep,
            batch_ids,
            latencies,
            lambda: {"customer": "ACME", "amount": _amount(rng), "quantity": 2},
        )
        while True:
            latencies.extend(_drain(runner))
            if _complete_all(
                container, boss, batch_ids, latencies, lambda: {"approved": True, "pre_review_ok": True}
            ):
                continue
            if _all_completed(container, batch_ids):
                break
            time.sleep(0.002)  # another process's runner holds jobs of this batch
    return ids, latencies


def _all_completed(container: Any, ids: list[str]) -> bool:
    from sqlalchemy import bindparam, text

    query = text("SELECT count(*) FROM process_instances WHERE state <> 'completed' AND id IN :ids")
    with container.database.engine.connect() as conn:
        left = conn.execute(query.bindparams(bindparam("ids", expanding=True)), {"ids": ids}).scalar_one()
    return int(left) == 0


def _lane_process(
    db: str,
    data: str,
    service_tasks: str,
    lane: int,
    offset: int,
    n: int,
    batch: int,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    """One of several processes: its share of the instances, timed from a common start."""
    container = _container(db, Path(data), service_tasks)
    gc.collect()
    gc.freeze()
    ready.set()
    go.wait()
    cpu0 = time.process_time()
    ids, latencies = _lane(container, lane, offset, n, batch)
    results.put((time.perf_counter(), time.process_time() - cpu0, ids, latencies))
    container.close()


def _bench_processes(
    db: str, n: int, data: Path, workers: int, batch: int, service_tasks: str
) -> dict[str, Any]:
    import multiprocessing

    container = _prepared(db, data, service_tasks)
    spawn = multiprocessing.get_context("spawn")
    go, results = spawn.Event(), spawn.Queue()
    readies = [spawn.Event() for _ in range(workers)]
    shares = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    procs = [
        spawn.Process(
            target=_lane_process,
            args=(
                db,
                str(data),
                service_tasks,
                i,
                sum(shares[:i]),
                shares[i],
                batch,
                readies[i],
                go,
                results,
            ),
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    for ready in readies:
        ready.wait()
    wall0 = time.perf_counter()
    go.set()
    ends: list[float] = []
    cpu = 0.0
    ids: list[str] = []
    latencies: list[float] = []
    for _ in procs:
        end, lane_cpu, lane_ids, lane_latencies = results.get()
        ends.append(end)
        cpu += lane_cpu
        ids += lane_ids
        latencies += lane_latencies
    for proc in procs:
        proc.join()
    return _result(container, ids, n, max(ends) - wall0, cpu, latencies)


def _complete_all(
    container: Any,
    principal: Any,
    ids: list[str],
    latencies: list[float],
    values: Callable[[], dict[str, Any]],
) -> int:
    wanted = set(ids)
    tasks = [t for t in container.tasks.list(principal, limit=100_000) if t.instance_id in wanted]
    if not tasks:
        return 0
    with _timed(latencies, len(tasks)):
        container.tasks.complete_many(principal, [(t.id, values()) for t in tasks])
    return len(tasks)


def _drain(runner: Any) -> list[float]:
    """Run the due jobs until none is left; each job's latency is its batch's transaction."""
    mine: list[float] = []
    while True:
        began = time.perf_counter()
        stats = runner.run_due()
        if stats.claimed == 0:
            return mine
        mine.extend([time.perf_counter() - began] * stats.claimed)


def engine_cpu(n: int, codec: str = "engine") -> float:
    """CPU ms per instance of the pure interpreter on the demo process (no database).

    ``codec`` is how the state goes to JSON text and back at each wait: ``engine`` with
    ``state_to_json``/``state_from_json`` (orjson), ``json`` with the standard library."""
    from isthmus.decisions import DecisionEngine, evaluate, parse_dmn, to_json_value
    from isthmus.engine import (
        InstanceState,
        InstanceStatus,
        Interpreter,
        ServiceCall,
        TaskOpened,
        definition_of,
        load_state,
        state_from_json,
        state_to_json,
    )
    from isthmus.models import parse_bpmn

    definition = definition_of(
        "SAL-ORD-001", 1, parse_bpmn((DEMO / "processes" / "sal-ord-001.bpmn").read_bytes())
    )
    dmn = DecisionEngine([parse_dmn((DEMO / "decisions" / "tiered-approval.dmn").read_bytes())])

    class Decide:
        def decide(self, ref: str, variables: Any) -> Any:
            return to_json_value(evaluate(dmn, ref, variables).value)

    def stdlib_round_trip(state: Any) -> Any:
        return load_state(json.loads(json.dumps(state.dump())))

    def engine_round_trip(state: Any) -> Any:
        return state_from_json(state_to_json(state))

    round_trip = engine_round_trip if codec == "engine" else stdlib_round_trip
    decisions, now, rng = (
        Decide(),
        __import__("datetime").datetime.now(__import__("datetime").UTC),
        random.Random(1),
    )
    active, waits = InstanceStatus.ACTIVE, {TaskOpened, ServiceCall}
    began = time.process_time()
    # the first instance compiles the model's FEEL and the decision table (once per deployed
    # version in a running worker, as Spiff parses its spec once): not timed, on both sides
    for i in range(n + 1):
        if i == 1:
            began = time.process_time()
        state = InstanceState("SAL-ORD-001", 1)
        walk = Interpreter(definition, state, now=now, decisions=decisions)
        walk.start({})
        pending = [e for e in walk.effects if e.__class__ in waits]
        values = {"customer": "ACME", "amount": _amount(rng), "quantity": 2}
        while state.status is active:
            state = round_trip(state)
            effect = pending[0]
            walk = Interpreter(definition, state, now=now, decisions=decisions)
            result = (
                values
                if effect.node == "enter_order"
                else {"approved": True, "pre_review_ok": True, "ok": True}
            )
            walk.complete(effect.token, result)
            pending = pending[1:] + [e for e in walk.effects if e.__class__ in waits]
    return (time.process_time() - began) * 1000 / n


SPIFF_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="sal" isExecutable="true">
    <bpmn:startEvent id="order_received"/>
    <bpmn:sequenceFlow id="f1" sourceRef="order_received" targetRef="enter_order"/>
    <bpmn:userTask id="enter_order"/>
    <bpmn:sequenceFlow id="f2" sourceRef="enter_order" targetRef="check_stock"/>
    <bpmn:scriptTask id="check_stock"><bpmn:script>in_stock = True</bpmn:script></bpmn:scriptTask>
    <bpmn:boundaryEvent id="late" attachedToRef="check_stock" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT10M"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="fl" sourceRef="late" targetRef="escalate"/>
    <bpmn:scriptTask id="escalate"><bpmn:script>escalated = True</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="fe" sourceRef="escalate" targetRef="escalated"/>
    <bpmn:endEvent id="escalated"/>
    <bpmn:sequenceFlow id="f3" sourceRef="check_stock" targetRef="tiered_approval"/>
    <bpmn:scriptTask id="tiered_approval"><bpmn:script>route = {"approver": "director" if amount &gt; 50000 else "department_manager", "finance_pre_review": amount &gt;= 100000}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="tiered_approval" targetRef="needs_pre_review"/>
    <bpmn:exclusiveGateway id="needs_pre_review" default="f_no"/>
    <bpmn:sequenceFlow id="f_pre" sourceRef="needs_pre_review" targetRef="finance_pre_review"><bpmn:conditionExpression>route["finance_pre_review"]</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="needs_pre_review" targetRef="which_approver"/>
    <bpmn:userTask id="finance_pre_review"/>
    <bpmn:sequenceFlow id="f5" sourceRef="finance_pre_review" targetRef="which_approver"/>
    <bpmn:exclusiveGateway id="which_approver" default="f_mgr"/>
    <bpmn:sequenceFlow id="f_dir" sourceRef="which_approver" targetRef="director_approval"><bpmn:conditionExpression>route["approver"] == "director"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_mgr" sourceRef="which_approver" targetRef="manager_approval"/>
    <bpmn:userTask id="director_approval"/>
    <bpmn:userTask id="manager_approval"/>
    <bpmn:sequenceFlow id="f6" sourceRef="director_approval" targetRef="approved"/>
    <bpmn:sequenceFlow id="f7" sourceRef="manager_approval" targetRef="approved"/>
    <bpmn:exclusiveGateway id="approved"/>
    <bpmn:sequenceFlow id="f8" sourceRef="approved" targetRef="fork"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:sequenceFlow id="f9" sourceRef="fork" targetRef="notify_finance"/>
    <bpmn:sequenceFlow id="f10" sourceRef="fork" targetRef="reserve_stock"/>
    <bpmn:scriptTask id="notify_finance"><bpmn:script>finance_notified = True</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="reserve_stock"><bpmn:script>reservation_id = 'RSV-1'</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f11" sourceRef="notify_finance" targetRef="join"/>
    <bpmn:sequenceFlow id="f12" sourceRef="reserve_stock" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f13" sourceRef="join" targetRef="order_done"/>
    <bpmn:endEvent id="order_done"/>
  </bpmn:process>
</bpmn:definitions>
"""


def spiff_cpu(n: int) -> float | None:
    """CPU ms per instance of SpiffWorkflow 3.2.0 on the same shape; None when not installed."""
    try:
        from lxml import etree
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.util.task import TaskState
    except ImportError:
        return None
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(SPIFF_MODEL.encode()), filename="sal.bpmn")
    spec = parser.get_spec("sal")
    serializer = BpmnWorkflowSerializer()
    rng = random.Random(1)
    began = time.process_time()
    for i in range(n + 1):
        if i == 1:
            began = time.process_time()
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        amount = _amount(rng)
        while not workflow.is_completed():
            workflow = serializer.deserialize_json(serializer.serialize_json(workflow))
            ready = [t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual]
            if not ready:
                workflow.refresh_waiting_tasks()
                workflow.do_engine_steps()
                continue
            task = ready[0]
            task.data.update({"customer": "ACME", "amount": amount, "quantity": 2, "approved": True})
            task.run()
            workflow.do_engine_steps()
    return (time.process_time() - began) * 1000 / n


def _interleaved(ours: int, theirs: int, rounds: int = 5) -> tuple[float, float, float | None]:
    """CPU ms per instance of the engine (engine codec, stdlib json) and of SpiffWorkflow, run in
    alternating slices so that both see the same load on a shared machine."""
    mine, stdlib, spiff = [], [], []
    for _ in range(rounds):
        mine.append(engine_cpu(max(1, ours // rounds)))
        stdlib.append(engine_cpu(max(1, ours // rounds), codec="json"))
        found = spiff_cpu(max(1, theirs // rounds))
        if found is not None:
            spiff.append(found)
    return (
        statistics.mean(mine),
        statistics.mean(stdlib),
        statistics.mean(spiff) if spiff else None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--spiff", type=int, default=500, help="instances for the SpiffWorkflow run")
    parser.add_argument("--batch", type=int, default=BATCH, help="instances per commit (default 200)")
    parser.add_argument("--pg", help="a PostgreSQL URL (an empty database) to run on as well")
    parser.add_argument(
        "--pg-workers",
        type=int,
        default=0,
        help="PostgreSQL: worker processes running the jobs beside the process starting instances and "
        "completing tasks (0: one process does all in turn)",
    )
    parser.add_argument(
        "--service-tasks",
        choices=("inline", "jobs"),
        default="inline",
        help="inline: the demo's handlers run in the step that reaches their task (as the demo deploys "
        "them); jobs: every service task is a job run by the batch runner",
    )
    parser.add_argument(
        "--interpreter-only", action="store_true", help="only the engine-only CPU comparison (no database)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of the engine-only CPU comparison")
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {args.instances} instances of SAL-ORD-001"
    )
    for _ in range(args.repeat):
        ours, stdlib, theirs = _interleaved(min(args.instances, 2000), args.spiff)
        print(
            f"engine only:  {ours:.3f} ms CPU per instance ({stdlib:.3f} ms with the stdlib json round trip)"
        )
        if theirs is None:
            print("SpiffWorkflow: not installed (uv pip install SpiffWorkflow==3.2.0), skipped")
        else:
            print(
                f"SpiffWorkflow 3.2.0: {theirs:.2f} ms CPU per instance → {theirs / ours:.0f}× the engine's CPU"
                f" ({theirs / stdlib:.0f}× with the stdlib json round trip)"
            )
    if args.interpreter_only:
        return 0
    runs = [("SQLite", f"sqlite:///{Path(tempfile.mkdtemp(prefix='isthmus-bench-')) / 'bench.db'}", 0)]
    if args.pg:
        runs.append(("PostgreSQL", args.pg, args.pg_workers))
    for name, url, workers in runs:
        result = bench_isthmus(
            url,
            args.instances,
            Path(tempfile.mkdtemp(prefix="isthmus-bench-data-")),
            workers,
            args.batch,
            args.service_tasks,
        )
        print(
            f"{name} ({f'{workers} worker process(es)' if workers else 'one process'}, "
            f"service tasks {args.service_tasks}): "
            f"{result['instances_per_s']:.0f} completed instances/s ({result['wall_s']:.1f} s), "
            f"p50 {result['p50_ms']:.1f} ms / p99 {result['p99_ms']:.1f} ms per step (batches of {args.batch}), "
            f"{result['cpu_ms_per_instance']:.2f} ms CPU per instance, {result['state_bytes']:.0f} B state, "
            f"sampled completed {result['completed_sampled']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
