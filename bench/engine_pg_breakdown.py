"""Where an engine instance's time goes on PostgreSQL (or SQLite): client CPU and round trips per
phase, the server's CPU per instance, and the statements the server ran.

    PYTHONPATH=src .venv/bin/python bench/engine_pg_breakdown.py --db postgresql://…/fresh --instances 2000

Runs ``bench/engine.py``'s one-process lane (start_many, TaskService.complete_many, the worker's
BatchRunner) with each phase wrapped in a timer and a counter of the DBAPI calls it makes
(``execute``/``executemany`` on psycopg or sqlite3 cursors, COMMIT and ROLLBACK: each is one round
trip, a pipelined ``executemany`` counts as one). Server CPU (PostgreSQL on this machine only): the
user+system ticks of the cluster's postmaster, its live children and its reaped children
(``/proc/<pid>/stat``), before and after. With ``pg_stat_statements`` loaded
(``shared_preload_libraries``), the statements by total server time are printed too.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine as bench  # bench/engine.py

TICK = os.sysconf("SC_CLK_TCK")

_phase = ["other"]
calls: dict[str, int] = defaultdict(int)
cpu: dict[str, float] = defaultdict(float)
wall: dict[str, float] = defaultdict(float)


@contextmanager
def phase(name: str) -> Iterator[None]:
    outer = _phase[0]
    _phase[0] = name
    c0, w0 = time.process_time(), time.perf_counter()
    try:
        yield
    finally:
        cpu[name] += time.process_time() - c0
        wall[name] += time.perf_counter() - w0
        if outer != "other":
            cpu[outer] -= time.process_time() - c0
            wall[outer] -= time.perf_counter() - w0
        _phase[0] = outer


texts: dict[tuple[str, str], int] = defaultdict(int)
_in_pipeline = [False]


def _count(method: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        if not _in_pipeline[0]:
            calls[_phase[0]] += 1
        query = args[1] if len(args) > 1 else method.__name__.upper()
        texts[(_phase[0], " ".join(str(query).split())[:70])] += 1
        return method(*args, **kwargs)

    return counted


def _instrument_dbapi() -> None:
    import psycopg

    for cls in (psycopg.Cursor,):
        cls.execute = _count(cls.execute)  # type: ignore[method-assign]
        cls.executemany = _count(cls.executemany)  # type: ignore[method-assign]
        cls.copy = _count(cls.copy)  # type: ignore[method-assign]
    # a pipeline's statements travel together: count the pipeline once, not its statements
    pipeline = psycopg.Connection.pipeline

    @contextmanager
    def pipelined(self: Any) -> Iterator[Any]:
        calls[_phase[0]] += 1
        texts[(_phase[0], "PIPELINE (one round trip for the statements in it)")] += 1
        _in_pipeline[0] = True
        try:
            with pipeline(self) as p:
                yield p
        finally:
            _in_pipeline[0] = False

    psycopg.Connection.pipeline = pipelined  # type: ignore[method-assign,assignment]
    psycopg.Connection.commit = _count(psycopg.Connection.commit)  # type: ignore[method-assign]
    psycopg.Connection.rollback = _count(psycopg.Connection.rollback)  # type: ignore[method-assign]


def _wrap(owner: Any, attr: str, name: str) -> None:
    original = getattr(owner, attr)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with phase(name):
            return original(*args, **kwargs)

    setattr(owner, attr, wrapped)


def _postmaster(url: str) -> int | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(bench_url(url))
    with engine.connect() as conn:
        directory = conn.execute(text("SHOW data_directory")).scalar_one()
    engine.dispose()
    try:
        return int(Path(directory, "postmaster.pid").read_text().split()[0])
    except OSError:
        return None


def bench_url(url: str) -> str:
    from isthmus.adapters.storage.engine import normalise_url

    return normalise_url(url)


def _server_ticks(pid: int) -> int:
    def fields(p: int) -> list[str]:
        text = Path(f"/proc/{p}/stat").read_text()
        return text[text.rindex(")") + 2 :].split()

    own = fields(pid)
    total = sum(int(x) for x in own[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                f = fields(int(entry.name))
            except OSError:
                continue
            if int(f[1]) == pid:
                total += int(f[11]) + int(f[12])
    return total


def _statements(url: str, reset: bool) -> list[tuple[Any, ...]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(bench_url(url))
    try:
        with engine.connect() as conn:
            if reset:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
                conn.execute(text("SELECT pg_stat_statements_reset()"))
                conn.commit()
                return []
            rows = conn.execute(
                text(
                    "SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110)"
                    " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 25"
                )
            ).all()
            return [tuple(r) for r in rows]
    except Exception as error:  # no pg_stat_statements: skip that part
        print(f"(pg_stat_statements unavailable: {type(error).__name__})")
        return []
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", required=True, help="an empty database (sqlite:///… or postgresql://…)")
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=bench.BATCH)
    parser.add_argument(
        "--service-tasks", choices=("inline", "jobs"), default="inline", help="as bench/engine.py's flag"
    )
    parser.add_argument("--verbose", action="store_true", help="round trips per phase and statement")
    parser.add_argument("--profile", help="write a cProfile of the run to this file")
    args = parser.parse_args()
    postgres = args.db.startswith("postgres")
    if postgres:
        _instrument_dbapi()
    else:
        import sqlite3  # C types: count through a wrapping connection factory is intrusive; skip

        del sqlite3
    from isthmus.services.engine_batch import BatchRunner

    container = bench._prepared(
        args.db, Path(tempfile.mkdtemp(prefix="isthmus-bench-data-")), args.service_tasks
    )
    _wrap(container.engine, "start_many", "start_many")
    _wrap(container.tasks, "list", "task list")
    _wrap(container.tasks, "complete_many", "complete_many")
    _wrap(BatchRunner, "_claim", "job claim")
    _wrap(BatchRunner, "_run_together", "job run+complete")
    _wrap(bench, "_all_completed", "bench check")
    pid = _postmaster(args.db) if postgres else None
    if postgres:
        _statements(args.db, reset=True)
    calls.clear()
    texts.clear()
    gc.collect()
    gc.freeze()
    ticks0 = _server_ticks(pid) if pid else 0
    c0, w0 = time.process_time(), time.perf_counter()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not wall (waits on the server)
        profiler.enable()
    bench._lane(container, 0, 0, args.instances, args.batch)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    total_cpu, total_wall = time.process_time() - c0, time.perf_counter() - w0
    server = (_server_ticks(pid) - ticks0) / TICK if pid else None
    n = args.instances
    batches = -(-n // args.batch)
    print(f"{n} instances, batches of {args.batch}: {n / total_wall:.0f}/s, wall {total_wall:.1f} s")
    print(f"client CPU {total_cpu * 1000 / n:.3f} ms/instance", end="")
    if server is not None:
        print(f"; server CPU {server * 1000 / n:.3f} ms/instance (all backends, {TICK} ticks/s)")
    else:
        print()
    print(f"{'phase':<18}{'CPU ms/inst':>12}{'wall ms/inst':>13}{'round trips/batch':>19}")
    for name in sorted(set(cpu) | set(calls), key=lambda k: -cpu.get(k, 0)):
        print(
            f"{name:<18}{cpu[name] * 1000 / n:>12.3f}{wall[name] * 1000 / n:>13.3f}{calls[name] / batches:>19.1f}"
        )
    if args.verbose:
        for (name, query), count in sorted(texts.items(), key=lambda kv: (kv[0][0], -kv[1])):
            print(f"  {name:<18}{count / batches:>7.1f}  {query}")
    if postgres:
        print("calls  server_ms  rows  statement (pg_stat_statements, by total time)")
        for c, t, r, q in _statements(args.db, reset=False):
            print(f"{c:>6} {t:>9.1f} {r:>6}  {q}")
    container.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
