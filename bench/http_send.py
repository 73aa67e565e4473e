"""The HTTP target's client against ``http.client`` and ``httpx`` on one loopback target, one run.

    .venv/bin/python bench/http_send.py --requests 20000

Each client sends the same orders one after another on one keep-alive connection to the webhook
bench's target (a process of its own on raw asyncio streams answering 200); the CPU this process
spends per request (user + system, so the syscalls count) and the wall time per request are printed,
with each client's CPU as a multiple of Isthmus's. ``http.client`` is what the target used before
(keep-alive, one connection per thread); ``httpx.Client`` is the library the brief names for HTTP.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook import free_port, target_process, wait_port

from isthmus.adapters.connectors.http import HttpConfig, HttpTarget
from isthmus.integration import Outbound


def orders(total: int) -> list[Outbound]:
    return [
        Outbound(
            "orders",
            f"SO-{i:07d}",
            {"vbeln": f"SO-{i:07d}", "kunnr": f"C{i % 97}", "telf1": "138****5678"},
            5.0,
        )
        for i in range(total)
    ]


def isthmus_client(url: str) -> tuple[Callable[[Outbound], None], Callable[[], None]]:
    target = HttpTarget(HttpConfig(url=url), 5.0)
    return target.send, target.close


def http_client(url: str) -> tuple[Callable[[Outbound], None], Callable[[], None]]:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5.0)

    def send(message: Outbound) -> None:
        body = json.dumps(message.payload, ensure_ascii=False).encode()
        headers = {"Idempotency-Key": message.idempotency_key, "Content-Type": "application/json"}
        connection.request("POST", "/orders", body, headers)
        answer = connection.getresponse()
        answer.read()
        if answer.status >= 300:
            raise RuntimeError(answer.status)

    return send, connection.close


def httpx_client(url: str) -> tuple[Callable[[Outbound], None], Callable[[], None]]:
    client = httpx.Client(timeout=5.0)

    def send(message: Outbound) -> None:
        answer = client.post(
            url,
            content=json.dumps(message.payload, ensure_ascii=False).encode(),
            headers={"Idempotency-Key": message.idempotency_key, "Content-Type": "application/json"},
        )
        answer.raise_for_status()

    return send, client.close


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="isthmus-http-send-")) / "arrivals.log"
    target = multiprocessing.get_context("spawn").Process(
        target=target_process, args=(port, str(log)), daemon=True
    )
    target.start()
    wait_port(port)
    url = f"http://127.0.0.1:{port}/orders"
    messages = orders(args.requests)
    results: list[tuple[str, float, float]] = []
    try:
        for name, make in (
            ("Isthmus HttpTarget", isthmus_client),
            ("http.client keep-alive", http_client),
            ("httpx.Client", httpx_client),
        ):
            send, close = make(url)
            for message in messages[:200]:  # warm up: connection, caches
                send(message)
            cpu, wall = time.process_time(), time.perf_counter()
            for message in messages:
                send(message)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            close()
            results.append((name, cpu * 1e6 / len(messages), wall * 1e6 / len(messages)))
    finally:
        target.terminate()
    print(f"{args.requests:,} requests per client, one keep-alive connection, loopback\n")
    print("| client | CPU µs/request | wall µs/request | CPU × Isthmus |")
    print("|---|---:|---:|---:|")
    base = results[0][1]
    for name, cpu_us, wall_us in results:
        print(f"| {name} | {cpu_us:,.0f} | {wall_us:,.0f} | {cpu_us / base:.2f} |")


if __name__ == "__main__":
    main()
