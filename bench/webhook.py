"""Real-time integration: webhook → outbox → HTTP target, sustained messages/s and end-to-end latency.

    .venv/bin/python bench/webhook.py                         # throwaway PostgreSQL, 3 workers
    .venv/bin/python bench/webhook.py --rates 100,300 --seconds 5 --pg-url postgresql://…/postgres

Processes, all on loopback: the Isthmus API served by uvicorn (``isthmus serve --no-worker``), N
workers (``isthmus worker``: the job loop and the batch delivery loop woken by LISTEN/NOTIFY), a
PostgreSQL server (scripts/throwaway-postgres, fsync off, or ``--pg-url``), an HTTP target (a
process of its own on raw asyncio streams that records when each Idempotency-Key arrives), and this
load generator: keep-alive HTTP/1.1 connections on raw asyncio streams posting one JSON order per
request (HMAC-signed, every request built and signed before the clock starts, so the generator
costs little of the CPU it measures) at a fixed offered rate, open loop. Latency is end to end: from
just before the POST is written to the moment the target receives the delivery (one monotonic clock
on one machine). A rate is sustained when every message is delivered within ``--seconds`` plus 2 s
after the last was sent; "exactly once" counts the requests the target got per key.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"
FLOW = """\
flow: hook-orders
source: {{system: CRM, connector: webhook, options: {{auth: hmac, hmac_secret_env: BENCH_HOOK_SECRET}}}}
target: {{system: ERP, connector: http, options: {{url: "http://127.0.0.1:{port}/orders"}}}}
trigger: {{webhook: true}}
mapping: {{vbeln: order_id, kunnr: cust_code, telf1: phone}}
transforms: {{telf1: {{mask: phone}}}}
idempotency_key: order_id
delivery: {{attempts: 4, backoff: 1s, timeout: 5s}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def target_process(port: int, log: str) -> None:
    """An HTTP/1.1 target on raw asyncio streams: answers 200, logs ``key time`` per request."""
    out = Path(log).open("a", encoding="ascii")  # noqa: SIM115 - lives as long as the process
    lines: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, key = 0, ""
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    lowered = name.lower()
                    if lowered == b"content-length":
                        length = int(value)
                    elif lowered == b"idempotency-key":
                        key = value.strip().decode()
                await reader.readexactly(length)
                lines.append(f"{key} {time.monotonic()}\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def flush() -> None:
        while True:
            await asyncio.sleep(0.05)
            if lines:
                out.write("".join(lines))
                out.flush()
                lines.clear()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await asyncio.gather(server.serve_forever(), flush())

    _run(main())


def _run(coroutine: Any) -> Any:
    """The harness's event loops on uvloop (a locked dependency, uvicorn's loop in the API too):
    the load generator and the target are measured separately and cost the machine the API and
    the workers share, so they should cost as little as they can."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the lock
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def wait_port(port: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def signed_requests(tag: str, total: int) -> list[tuple[str, bytes]]:
    """Every request of a run, built and signed before the clock starts."""
    built = []
    for i in range(total):
        key = f"{tag}-{i:07d}"
        body = json.dumps({"order_id": key, "cust_code": f"C{i % 97}", "phone": "13812345678"}).encode()
        mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        head = (
            f"POST /hooks/hook-orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Isthmus-Signature: sha256={mac}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        built.append((key, head + body))
    return built


async def post_all(
    port: int, rate: int, seconds: float, tag: str, connections: int
) -> tuple[dict[str, float], list[float]]:
    """Post ``rate × seconds`` orders on a fixed schedule; send times by key, and 202 latencies."""
    requests = signed_requests(tag, int(rate * seconds))
    queue: asyncio.Queue[int] = asyncio.Queue()
    sent: dict[str, float] = {}
    answers: list[float] = []
    errors.clear()
    start = time.monotonic()

    async def producer() -> None:
        for i in range(len(requests)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(i)
        for _ in range(connections):
            queue.put_nowait(-1)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (i := await queue.get()) >= 0:
            key, request = requests[i]
            t0 = time.monotonic()
            sent[key] = t0
            for _attempt in range(5):  # a sender retries a 5xx with the same body (the key dedupes)
                try:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = head[: head.index(b"\r\n")]
                    at = head.lower().find(b"content-length:")
                    length = int(head[at + 15 : head.index(b"\r\n", at)]) if at >= 0 else 0
                    await reader.readexactly(length)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    status = f"connection lost: {exc}".encode()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                if b" 202 " in status:
                    break
                errors.append(status.decode().strip())
            else:
                raise SystemExit(f"webhook answered {status!r} five times")
            answers.append(time.monotonic() - t0)
        writer.close()

    await asyncio.gather(producer(), *(connection() for _ in range(connections)))
    return sent, answers


errors: list[str] = []


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc; gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids(pg_dir: Path) -> list[int]:
    """The throwaway cluster's postmaster and its children (backends, writer, WAL …)."""
    try:
        postmaster = int((pg_dir / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children")
    return (
        [postmaster, *(int(p) for p in children.read_text().split())] if children.exists() else [postmaster]
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000 if ordered else float("nan")


def arrivals(log: Path) -> dict[str, list[float]]:
    """Every request the target got, by idempotency key (more than one = a redundant request)."""
    found: dict[str, list[float]] = {}
    for line in log.read_text(encoding="ascii").splitlines():
        key, _, at = line.partition(" ")
        found.setdefault(key, []).append(float(at))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="100,250,500,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll", type=float, default=0.5, help="the workers' fallback poll (s)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="isthmus-webhook-"))
    work.chmod(0o755)
    pg_dir = work / "pg"
    server = (
        args.pg_url
        or subprocess.run(
            [str(ROOT / "scripts" / "throwaway-postgres"), "start", str(pg_dir)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    url = server.replace("postgresql://", "postgresql+psycopg://")
    target_port, api_port = free_port(), free_port()
    log = work / "arrivals.log"
    log.touch()
    env = os.environ | {
        "ISTHMUS_DB_URL": url,
        "ISTHMUS_DATA_DIR": str(work / "data"),
        "BENCH_HOOK_SECRET": SECRET,
        "ISTHMUS_LANGUAGE": "en",
    }
    children: list[subprocess.Popen[bytes]] = []
    target = multiprocessing.get_context("spawn").Process(
        target=target_process, args=(target_port, str(log)), daemon=True
    )
    try:
        from isthmus.adapters.connectors import make_target
        from isthmus.adapters.storage import Database
        from isthmus.security import SYSTEM
        from isthmus.services.clock import SystemClock
        from isthmus.services.integration import FlowService

        db = Database(url)
        db.upgrade()
        flows = FlowService(db.unit_of_work, SystemClock(), make_target)
        flows.deploy(SYSTEM, FLOW.format(port=target_port))
        flows.close()
        db.dispose()
        target.start()
        isthmus = str(Path(sys.executable).parent / "isthmus")
        children.append(subprocess.Popen([isthmus, "serve", "--no-worker", "--port", str(api_port)], env=env))
        for _ in range(args.workers):
            # INFO: each worker's delivery loop logs its claims (and empty ones) when it stops
            children.append(
                subprocess.Popen(
                    [isthmus, "worker", "--poll", str(args.poll)], env=env | {"ISTHMUS_LOG_LEVEL": "INFO"}
                )
            )
        wait_port(api_port)
        wait_port(target_port)
        _run(post_all(api_port, 20, 1.0, "warmup", 4))
        time.sleep(2)
        print(
            f"{os.cpu_count()} CPUs; {args.workers} workers; PostgreSQL {server.split('@')[-1]}; "
            f"{args.seconds:.0f} s per rate, {args.connections} connections\n"
        )
        print(
            "| offered msg/s (sent) | delivered msg/s | all delivered, exactly once | 202 p50 / p99 ms "
            "| end-to-end p50 / p95 / p99 ms | 5xx / lost connections (retried) | CPU ms/msg API / workers / PostgreSQL "
            "| harness CPU ms/msg generator / target | load before → after |"
        )
        print("|---:|---:|---|---:|---:|---:|---:|---:|---|")
        api_pid, worker_pids = children[0].pid, [c.pid for c in children[1:]]
        target_pid = target.pid or 0
        for rate in [int(r) for r in args.rates.split(",")]:
            tag = f"r{rate}"
            load_before = os.getloadavg()[0]
            pg_pids = postgres_pids(pg_dir)
            cpu_before = (cpu_s([api_pid]), cpu_s(worker_pids), cpu_s(pg_pids), cpu_s([target_pid]))
            generator_before = time.process_time()
            # the generator must not pause: a full collection of this process's heap took 85–115 ms
            # and the requests held back meanwhile went out as one burst (gc.callbacks, RESULTS)
            gc.collect()
            gc.freeze()
            gc.disable()
            try:
                sent, answers = _run(post_all(api_port, rate, args.seconds, tag, args.connections))
            finally:
                gc.enable()
                gc.unfreeze()
            cpu_generator = time.process_time() - generator_before
            first, last_sent = min(sent.values()), max(sent.values())
            deadline = time.monotonic() + args.seconds + 2
            while time.monotonic() < deadline:
                got = {k: v for k, v in arrivals(log).items() if k.startswith(tag + "-")}
                if len(got) == len(sent):
                    break
                time.sleep(0.2)
            time.sleep(0.2)  # the target's log is flushed every 50 ms
            got = {k: v for k, v in arrivals(log).items() if k.startswith(tag + "-")}
            cpu_api, cpu_workers = cpu_s([api_pid]) - cpu_before[0], cpu_s(worker_pids) - cpu_before[1]
            cpu_pg = cpu_s(pg_pids) - cpu_before[2]
            cpu_target = cpu_s([target_pid]) - cpu_before[3]
            latencies = [got[k][0] - t for k, t in sent.items() if k in got]
            span = max(max(v) for v in got.values()) - first if got else float("nan")
            redundant = sum(len(v) - 1 for v in got.values())
            complete = len(got) == len(sent)
            verdict = (
                "yes"
                if complete and not redundant
                else f"no ({len(got):,} of {len(sent):,} keys, {redundant} redundant)"
            )
            print(
                f"| {rate:,} ({len(sent) / max(last_sent - first, 1e-9):,.0f}) | {len(got) / span:,.0f} | {verdict} | "
                f"{pct(answers, 0.5):.1f} / {pct(answers, 0.99):.1f} | "
                f"{pct(latencies, 0.5):.1f} / {pct(latencies, 0.95):.1f} / {pct(latencies, 0.99):.1f} | "
                f"{len(errors)} | {cpu_api * 1000 / len(sent):.2f} / {cpu_workers * 1000 / len(sent):.2f} / "
                f"{cpu_pg * 1000 / len(sent):.2f} | "
                f"{cpu_generator * 1000 / len(sent):.2f} / {cpu_target * 1000 / len(sent):.2f} | "
                f"{load_before:.1f} → {os.getloadavg()[0]:.1f} |",
                flush=True,
            )
            # let the backlog drain before the next rate
            drain = time.monotonic() + 120
            while time.monotonic() < drain and len(
                [k for k in arrivals(log) if k.startswith(tag + "-")]
            ) < len(sent):
                time.sleep(0.5)
            time.sleep(2)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
        if target.is_alive():
            target.terminate()
        if not args.pg_url:
            subprocess.run([str(ROOT / "scripts" / "throwaway-postgres"), "stop", str(pg_dir)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
