"""The real-time delivery loop: batch delivery woken by PostgreSQL notifications.

Runs next to the :class:`~isthmus.adapters.worker.loop.WorkerLoop` (in a thread of the same
process), which then leaves ``flow.deliver`` jobs to it. Requests go out from a thread pool: the
HTTP targets' clients keep their connections alive and are safe to share between threads.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from isthmus.adapters.storage.wakeups import DeliveryWakeups
from isthmus.bootstrap import Container
from isthmus.services.flow_delivery import BatchDelivery, Claimed, Send

log = logging.getLogger("isthmus.worker")


class DeliveryLoop:
    """Claims, sends and records in a pipeline: the next batch is claimed (and its requests start)
    as soon as work is due, while up to ``depth`` earlier batches are still being sent or recorded
    by the writer thread — a message that commits just after a claim waits for the next claim, not
    for the whole round before it."""

    def __init__(
        self,
        runner: BatchDelivery,
        wakeups: DeliveryWakeups,
        pool: ThreadPoolExecutor,
        poll_s: float,
        *,
        depth: int = 2,
    ) -> None:
        self.runner = runner
        self._wakeups = wakeups
        self._pool = pool
        self._poll_s = poll_s
        self._slots = threading.BoundedSemaphore(depth)
        self._batches: queue.SimpleQueue[tuple[Claimed, list[Future[Exception | None]]] | None] = (
            queue.SimpleQueue()
        )
        self.stopping = threading.Event()
        self.claims = self.empty_claims = 0  # for the bench and the tests

    def run_forever(self) -> None:
        writer = threading.Thread(target=self._write_forever, name="isthmus-delivery-write", daemon=True)
        writer.start()
        try:
            while not self.stopping.is_set():
                if not self._slots.acquire(timeout=self._poll_s):
                    continue
                try:
                    claimed = self.runner.claim_due()
                except Exception:  # a database outage must not kill the worker: log, back off, go on
                    self._slots.release()
                    log.exception("delivery claim failed")
                    self.stopping.wait(self._poll_s * 5)
                    continue
                self.claims += 1
                if claimed is None:
                    self.empty_claims += 1
                    self._slots.release()
                    self._wakeups.wait(self._poll_s)
                    continue
                self._batches.put((claimed, [self._pool.submit(_run, send) for send in claimed.sends]))
                if claimed.claimed < self.runner.batch:
                    self._wakeups.wait(self._poll_s)
                else:  # a full batch: more may be due at once; an idle worker of the host helps
                    self._wakeups.pass_on()
        finally:
            self._batches.put(None)
            writer.join()  # the batches in hand are sent and recorded: a graceful stop loses no work

    def _write_forever(self) -> None:
        while (item := self._batches.get()) is not None:
            claimed, futures = item
            try:
                self.runner.finish(claimed, [future.result() for future in futures])
            except Exception:  # the jobs stay leased: they run again when the lease ends
                log.exception("recording %d deliveries failed", claimed.claimed)
            finally:
                self._slots.release()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="isthmus-delivery", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self._wakeups.stop()

    def close(self) -> None:
        log.info("delivery %s: %d claims, %d empty", self.runner.worker_id, self.claims, self.empty_claims)
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
    depth: int = 2,
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
    return DeliveryLoop(runner, DeliveryWakeups(container.database.url), pool, poll_s, depth=depth)
