"""Waiting for new delivery jobs: PostgreSQL ``LISTEN``, or a plain timed wait on SQLite.

The webhook's commit sends ``NOTIFY`` (see ``SqlFlowRepository.wake_deliveries``); a worker waiting
here wakes within a millisecond instead of at its next poll. A notification that arrives while the
worker is busy stays queued on the listening connection, so the next wait returns at once: no
wake-up is lost. The timeout stays as the fallback (jobs enqueued without a notification, retries
whose backoff ran out, a lost listening connection).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.engine import make_url

from isthmus.adapters.storage.engine import normalise_url
from isthmus.adapters.storage.integration import DELIVERY_CHANNEL

log = logging.getLogger("isthmus.worker")


class DeliveryWakeups:
    def __init__(self, db_url: str) -> None:
        url = make_url(normalise_url(db_url))
        self._conninfo = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if url.get_backend_name() == "postgresql"
            else None
        )
        self._connection: Any = None
        self._stopped = threading.Event()

    def wait(self, timeout_s: float) -> None:
        """Return on a notification, on :meth:`stop`, or after ``timeout_s``."""
        if self._conninfo is None or self._stopped.is_set():
            self._stopped.wait(timeout_s)
            return
        try:
            connection = self._listen()
            for _ in connection.notifies(timeout=timeout_s, stop_after=1):
                break
            for _ in connection.notifies(timeout=0):  # several commits, one round of work
                pass
        except Exception:  # the listening connection broke: poll, and listen again next time
            log.warning("LISTEN %s failed; polling", DELIVERY_CHANNEL, exc_info=True)
            self._close()
            self._stopped.wait(timeout_s)

    def _listen(self) -> Any:
        if self._connection is None and self._conninfo is not None:
            import psycopg

            self._connection = psycopg.connect(self._conninfo, autocommit=True)
            self._connection.execute(f"LISTEN {DELIVERY_CHANNEL}")
        return self._connection

    def stop(self) -> None:
        self._stopped.set()

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def close(self) -> None:
        self.stop()
        self._close()
