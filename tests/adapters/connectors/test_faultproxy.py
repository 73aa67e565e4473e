"""The TCP fault proxy in front of the loopback sandbox API, seen through the HTTP target."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from isthmus.adapters.connectors.faultproxy import HTTP_500, Fault, FaultProxy
from isthmus.adapters.connectors.http import HttpConfig, HttpTarget
from isthmus.demo.integration import SandboxApi
from isthmus.integration import Outbound, TargetUnavailable


@pytest.fixture
def target() -> Iterator[tuple[HttpTarget, FaultProxy, SandboxApi]]:
    with SandboxApi() as api:
        host, port = api.url.removeprefix("http://").split(":")
        with FaultProxy((host, int(port))) as proxy:
            proxy_host, proxy_port = proxy.address
            http = HttpTarget(HttpConfig(url=f"http://{proxy_host}:{proxy_port}/api/orders"), 0.5)
            yield http, proxy, api
            http.close()


def send(http: HttpTarget, key: str = "SO-1") -> None:
    http.send(Outbound("f", key, {"vbeln": key}, timeout_s=0.5))


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        (Fault.RESET, {}),
        (Fault.BLACKHOLE, {}),
        (Fault.CLOSE_AFTER, {"limit": 10}),
        (Fault.RESPOND, {"response": HTTP_500}),
    ],
)
def test_each_fault_is_transient_and_the_next_connection_passes(
    target: tuple[HttpTarget, FaultProxy, SandboxApi], fault: Fault, options: dict[str, object]
) -> None:
    http, proxy, api = target
    proxy.set(fault, times=1, **options)  # type: ignore[arg-type]
    with pytest.raises(TargetUnavailable):
        send(http)
    send(http)
    assert list(api.records["/api/orders"]) == ["SO-1"]


def test_latency(target: tuple[HttpTarget, FaultProxy, SandboxApi]) -> None:
    http, proxy, _ = target
    proxy.set(Fault.LATENCY, latency_s=0.2)
    started = time.monotonic()
    send(http)
    assert time.monotonic() - started >= 0.2
