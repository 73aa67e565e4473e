"""A polling worker loop that sleeps until the next due job, woken early on stop.

Polling (not LISTEN/NOTIFY) keeps SQLite and PostgreSQL on one code path; the wait is bounded by
``poll_s`` so a job enqueued by another process is picked up within that time.
"""

from __future__ import annotations

import gc
import logging
import threading
from datetime import datetime

from isthmus.services.jobs import Runner, RunStats
from isthmus.services.ports import Clock, UnitOfWorkFactory

log = logging.getLogger("isthmus.worker")


class WorkerLoop:
    def __init__(
        self, runner: Runner, uow_factory: UnitOfWorkFactory, clock: Clock, poll_s: float = 1.0
    ) -> None:
        self._runner = runner
        self._uow = uow_factory
        self._clock = clock
        self._poll_s = poll_s
        self.stopping = threading.Event()

    def run_forever(self) -> None:
        log.info("worker %s started", self._runner.worker_id)
        # what start-up built (parsed models, grammars, SQL metadata) lives as long as the process:
        # keep the garbage collector from walking it again at every full collection
        gc.collect()
        gc.freeze()
        while not self.stopping.is_set():
            try:
                stats = self._runner.run_due()
            except Exception:  # a database outage must not kill the worker: log, back off, go on
                log.exception("worker round failed")
                self.stopping.wait(self._poll_s * 5)
                continue
            if stats.claimed == 0:
                self.stopping.wait(self._idle_wait())
        log.info("worker %s stopped", self._runner.worker_id)

    def run_until_idle(self) -> RunStats:
        return self._runner.run_until_idle()

    def _idle_wait(self) -> float:
        with self._uow() as uow:
            # jobs left to another loop (batch delivery) must not wake this one
            due: datetime | None = uow.jobs.next_due(exclude_kinds=self._runner.skip_kinds)
        if due is None:
            return self._poll_s
        return max(0.0, min(self._poll_s, (due - self._clock.now()).total_seconds()))

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="isthmus-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
