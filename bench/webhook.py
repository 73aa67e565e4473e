"""Real-time integration: webhook → outbox → HTTP target, sustained messages/s and end-to-end latency.

    .venv/bin/python bench/webhook.py                         # throwaway PostgreSQL, 3 workers
    .venv/bin/python bench/webhook.py --rates 100,300 --seconds 5 --pg-url postgresql://…/postgres

Processes, all on loopback: the Isthmus API served by uvicorn (``isthmus serve --no-worker``), N
workers (``isthmus worker --poll 0.05``), a PostgreSQL server (scripts/throwaway-postgres, fsync
off, or ``--pg-url``), an HTTP target (a process of its own that records when each Idempotency-Key
arrives), and this load generator: a few keep-alive HTTP/1.1 connections posting one JSON order per
request (HMAC-signed) at a fixed offered rate, open loop. Latency is end to end: from just before the
POST is written to the moment the target receives the delivery (one monotonic clock on one
machine). A rate is sustained when every message is delivered within ``--seconds`` plus 2 s after
the last was sent.
"""

from __future__ import annotations

import argparse
import asyncio
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    out = Path(log).open("a", buffering=1, encoding="ascii")  # noqa: SIM115 - lives as long as the process

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            out.write(f"{self.headers.get('Idempotency-Key')} {time.monotonic()}\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def wait_port(port: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


async def post_all(
    port: int, rate: int, seconds: float, tag: str, connections: int
) -> tuple[dict[str, float], list[float]]:
    """Post ``rate × seconds`` orders on a fixed schedule; send times by key, and 202 latencies."""
    total = int(rate * seconds)
    queue: asyncio.Queue[int] = asyncio.Queue()
    sent: dict[str, float] = {}
    answers: list[float] = []
    start = time.monotonic()
    errors.clear()

    async def producer() -> None:
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(i)
        for _ in range(connections):
            queue.put_nowait(-1)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (i := await queue.get()) >= 0:
            key = f"{tag}-{i:07d}"
            body = json.dumps({"order_id": key, "cust_code": f"C{i % 97}", "phone": "13812345678"}).encode()
            mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            head = (
                f"POST /hooks/hook-orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"X-Isthmus-Signature: sha256={mac}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            t0 = time.monotonic()
            sent[key] = t0
            for _attempt in range(5):  # a sender retries a 5xx with the same body (the key dedupes)
                try:
                    writer.write(head + body)
                    status = await reader.readline()
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000 if ordered else float("nan")


def arrivals(log: Path) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in log.read_text(encoding="ascii").splitlines():
        key, _, at = line.partition(" ")
        found.setdefault(key, float(at))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="100,250,500,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
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
            children.append(subprocess.Popen([isthmus, "worker", "--poll", "0.05"], env=env))
        wait_port(api_port)
        wait_port(target_port)
        asyncio.run(post_all(api_port, 20, 1.0, "warmup", 4))
        time.sleep(2)
        print(
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {args.workers} workers; PostgreSQL "
            f"{server.split('@')[-1]}; {args.seconds:.0f} s per rate, {args.connections} connections\n"
        )
        print(
            "| offered msg/s | delivered msg/s | all delivered | 202 p50 / p99 ms "
            "| end-to-end p50 / p95 / p99 ms | 5xx / lost connections (retried) |"
        )
        print("|---:|---:|---|---:|---:|---:|")
        for rate in [int(r) for r in args.rates.split(",")]:
            tag = f"r{rate}"
            sent, answers = asyncio.run(post_all(api_port, rate, args.seconds, tag, args.connections))
            first = min(sent.values())
            deadline = time.monotonic() + args.seconds + 2
            while time.monotonic() < deadline:
                got = {k: v for k, v in arrivals(log).items() if k.startswith(tag + "-")}
                if len(got) == len(sent):
                    break
                time.sleep(0.2)
            got = {k: v for k, v in arrivals(log).items() if k.startswith(tag + "-")}
            latencies = [got[k] - t for k, t in sent.items() if k in got]
            span = max(got.values()) - first if got else float("nan")
            print(
                f"| {rate:,} | {len(got) / span:,.0f} | {'yes' if len(got) == len(sent) else f'no ({len(got):,} of {len(sent):,})'} | "
                f"{pct(answers, 0.5):.0f} / {pct(answers, 0.99):.0f} | "
                f"{pct(latencies, 0.5):.0f} / {pct(latencies, 0.95):.0f} / {pct(latencies, 0.99):.0f} | "
                f"{len(errors)} |",
                flush=True,
            )
            # let the backlog drain before the next rate
            drain = time.monotonic() + 120
            while time.monotonic() < drain and len(
                [k for k in arrivals(log) if k.startswith(tag + "-")]
            ) < len(sent):
                time.sleep(0.5)
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
