"""A small TCP fault proxy for flow tests (toxiproxy and netem are not available everywhere).

It listens on loopback and forwards each connection to ``upstream``; :meth:`FaultProxy.set` chooses
what happens to the next connections::

    pass           forward both ways
    latency        forward, after waiting ``latency_s`` on each chunk from upstream
    reset          accept, then abort with a TCP RST (SO_LINGER 0): "connection reset by peer"
    blackhole      accept and read, never answer: the client's timeout fires
    close_after    forward at most ``limit`` bytes of the answer, then close: a cut transfer
    respond        answer ``response`` bytes without calling upstream (e.g. a canned HTTP 500)

``times`` limits a fault to the next N connections; then the proxy passes again.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    PASS = "pass"
    LATENCY = "latency"
    RESET = "reset"
    BLACKHOLE = "blackhole"
    CLOSE_AFTER = "close_after"
    RESPOND = "respond"


@dataclass(frozen=True, slots=True)
class _Plan:
    fault: Fault = Fault.PASS
    latency_s: float = 0.0
    limit: int = 0
    response: bytes = b""


HTTP_500 = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\nerror"


class FaultProxy:
    """Example:
    >>> with FaultProxy(("127.0.0.1", 9)) as proxy:
    ...     proxy.set(Fault.RESET, times=1)
    ...     proxy.address[0]
    '127.0.0.1'
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._plan = _Plan()
        self._times: int | None = None
        self._open: list[socket.socket] = []
        self._stopped = threading.Event()
        self.connections = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def set(
        self,
        fault: Fault,
        *,
        times: int | None = None,
        latency_s: float = 0.0,
        limit: int = 0,
        response: bytes = b"",
    ) -> None:
        with self._lock:
            self._plan = _Plan(fault, latency_s, limit, response)
            self._times = times

    def _next_plan(self) -> _Plan:
        with self._lock:
            plan = self._plan
            if self._times is not None:
                self._times -= 1
                if self._times <= 0:
                    self._plan, self._times = _Plan(), None
            self.connections += 1
            return plan

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for sock in self._open:
                _close(sock)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(client)
            threading.Thread(target=self._serve, args=(client, self._next_plan()), daemon=True).start()

    def _serve(self, client: socket.socket, plan: _Plan) -> None:
        if plan.fault is Fault.RESET:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            _close(client)
            return
        if plan.fault is Fault.BLACKHOLE:
            while not self._stopped.is_set() and _recv(client):
                pass
            return
        if plan.fault is Fault.RESPOND:
            _recv(client)
            client.sendall(plan.response)
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _close(client)
            return
        with self._lock:
            self._open.append(upstream)
        threading.Thread(target=_pump, args=(client, upstream, _Plan()), daemon=True).start()
        _pump(upstream, client, plan)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _pump(source: socket.socket, sink: socket.socket, plan: _Plan) -> None:
    sent = 0
    while data := _recv(source):
        if plan.fault is Fault.LATENCY:
            time.sleep(plan.latency_s)
        if plan.fault is Fault.CLOSE_AFTER:
            data = data[: max(plan.limit - sent, 0)]
        try:
            sink.sendall(data)
        except OSError:
            break
        sent += len(data)
        if plan.fault is Fault.CLOSE_AFTER and sent >= plan.limit:
            break
    _close(sink)
    _close(source)
