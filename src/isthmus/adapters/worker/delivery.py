"""The real-time delivery loop: batch delivery woken by PostgreSQL notifications.

Runs next to the :class:`~isthmus.adapters.worker.loop.WorkerLoop` (in a thread of the same
process), which then leaves ``flow.deliver`` jobs to it. Requests go out from a thread pool: the
HTTP targets' clients keep their connections alive and are safe to share between threads.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from isthmus.adapters.storage.wakeups import DeliveryWakeups
from isthmus.bootstrap import Container
from isthmus.services.flow_delivery import BatchDelivery, Send

log = logging.getLogger("isthmus.worker")


class DeliveryLoop:
    def __init__(
        self, runner: BatchDelivery, wakeups: DeliveryWakeups, pool: ThreadPoolExecutor, poll_s: float
    ) -> None:
        self.runner = runner
        self._wakeups = wakeups
        self._pool = pool
        self._poll_s = poll_s
        self.stopping = threading.Event()

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                stats = self.runner.run_due()
            except Exception:  # a database outage must not kill the worker: log, back off, go on
                log.exception("delivery round failed")
                self.stopping.wait(self._poll_s * 5)
                continue
            if stats.claimed < self.runner.batch:  # a full batch: more may be due at once
                self._wakeups.wait(self._poll_s)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="isthmus-delivery", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self._wakeups.stop()

    def close(self) -> None:
        self._wakeups.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _run(send: Send) -> Exception | None:
    try:
        send()
    except Exception as error:
        return error
    return None


def delivery_loop(
    container: Container,
    worker_id: str | None = None,
    *,
    threads: int = 16,
    batch: int = 100,
    poll_s: float = 0.5,
) -> DeliveryLoop:
    """A delivery loop on ``container``'s database and flows."""
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="isthmus-send")

    def send_all(sends: Sequence[Send]) -> list[Exception | None]:
        if len(sends) == 1:
            return [_run(sends[0])]
        return list(pool.map(_run, sends))

    runner = BatchDelivery(
        container.database.unit_of_work,
        container.clock,
        container.flows,
        worker_id or f"{socket.gethostname()}:{os.getpid()}:delivery",
        send_all,
        batch=batch,
    )
    return DeliveryLoop(runner, DeliveryWakeups(container.database.url), pool, poll_s)
