"""Waiting for new delivery jobs: one PostgreSQL ``LISTEN`` per host, or a plain timed wait on SQLite.

The webhook's commit sends ``NOTIFY`` (see ``SqlFlowRepository.wake_deliveries`` and the webhook
group's statement). Every listening connection gets every notification, so with a ``LISTEN`` per
worker each commit woke every worker on the host and all but one claim came back empty. Instead the
workers of one host (one database) share a wake-up pipe — a FIFO in the temporary directory — and
one of them, the leader (whoever holds the host's lock file: ``flock``, released by the kernel when
its process dies), listens and turns each burst of notifications into one byte in the pipe. A byte
wakes exactly one waiting worker (the one whose read gets it); at most one byte waits unread, so a
burst that arrives while every worker is busy wakes the next one that waits, at once: no wake-up is
lost. A worker that claims a full batch passes a byte on (:meth:`DeliveryWakeups.pass_on`), so an
idle one helps with the rest. Followers try to take the lock at every wait: when the leader dies,
one of them listens from its next wait on. The timeout stays as the fallback (jobs enqueued without
a notification, retries whose backoff ran out, a lost listening connection, the hand-over).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import select
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from isthmus.adapters.storage.engine import normalise_url
from isthmus.adapters.storage.integration import DELIVERY_CHANNEL

log = logging.getLogger("isthmus.worker")


class DeliveryWakeups:
    def __init__(self, db_url: str, directory: Path | None = None) -> None:
        url = make_url(normalise_url(db_url))
        self._conninfo = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if url.get_backend_name() == "postgresql"
            else None
        )
        self._stopped = threading.Event()
        self._lock_fd: int | None = None
        self._pipe_fd: int | None = None
        self._listener: threading.Thread | None = None
        self._connection: Any = None
        if self._conninfo is not None:
            # one pipe and one lock per host and database (the password stays out of the name)
            name = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
            self._base = (directory or Path(tempfile.gettempdir())) / f"isthmus-deliver-{name}"

    @property
    def listening(self) -> bool:
        """Whether this one is the host's leader (holds the ``LISTEN``)."""
        return self._lock_fd is not None

    def wait(self, timeout_s: float) -> bool:
        """Return on a wake-up (True), on :meth:`stop`, or after ``timeout_s`` (False)."""
        if self._conninfo is None or self._stopped.is_set():
            self._stopped.wait(timeout_s)
            return False
        try:
            pipe = self._pipe()
            self._lead()
        except OSError:  # no pipe (a read-only temporary directory, another user's files …): poll
            log.warning("delivery wake-up pipe unusable; this worker polls", exc_info=True)
            self._conninfo = None  # from now on: said once, polled every time
            self._stopped.wait(timeout_s)
            return False
        deadline = time.monotonic() + timeout_s
        while not self._stopped.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([pipe], [], [], min(left, 0.5))  # 0.5: see stop() soon
            if ready:
                try:
                    if os.read(pipe, 1):
                        return True
                except BlockingIOError:  # another worker took this byte
                    continue
        return False

    def pass_on(self) -> None:
        """Wake one more worker of this host (if none is about to wake already)."""
        if self._conninfo is None:
            return
        with contextlib.suppress(OSError):
            _wake(self._pipe())

    def _pipe(self) -> int:
        if self._pipe_fd is None:
            path = self._base.with_suffix(".fifo")
            with contextlib.suppress(FileExistsError):
                os.mkfifo(path, 0o600)
            if not path.is_fifo():
                raise OSError(f"{path} is not a FIFO")
            # read and write: opening never blocks, and the pipe lives while any worker holds it
            self._pipe_fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        return self._pipe_fd

    def _lead(self) -> None:
        """Become the leader if the lock is free (the first worker, or the leader died)."""
        if self._lock_fd is not None:
            if self._listener is not None and not self._listener.is_alive() and not self._stopped.is_set():
                self._start_listener()  # its connection broke: listen again
            return
        fd = os.open(self._base.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return
        self._lock_fd = fd
        self._start_listener()

    def _start_listener(self) -> None:
        self._listener = threading.Thread(target=self._listen, name="isthmus-deliver-listen", daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        """The leader's thread: each burst of notifications → one byte in the pipe."""
        import psycopg

        conninfo, pipe = self._conninfo, self._pipe()
        if conninfo is None:
            return
        try:
            self._connection = psycopg.connect(conninfo, autocommit=True)
            self._connection.execute(f"LISTEN {DELIVERY_CHANNEL}")
            _wake(pipe)  # whatever committed before the LISTEN: one look
            while not self._stopped.is_set():
                if any(True for _ in self._connection.notifies(timeout=0.5, stop_after=1)):
                    for _ in self._connection.notifies(timeout=0):  # the rest of the burst
                        pass
                    _wake(pipe)
        except Exception:  # the next wait starts a new listener; polling covers the gap
            if not self._stopped.is_set():
                log.warning("LISTEN %s failed; polling until it is back", DELIVERY_CHANNEL, exc_info=True)
        finally:
            self._close_connection()

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def stop(self) -> None:
        self._stopped.set()

    def close(self) -> None:
        """Stop waiting and give up the lead (another worker of the host takes it over)."""
        self.stop()
        if self._listener is not None:
            self._listener.join(5)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None
        if self._pipe_fd is not None:
            os.close(self._pipe_fd)
            self._pipe_fd = None


def _wake(pipe: int) -> None:
    """One byte in the pipe, unless one is already waiting to be read."""
    pending = bytearray(4)
    fcntl.ioctl(pipe, termios.FIONREAD, pending)
    if int.from_bytes(pending, "little") == 0:
        with contextlib.suppress(BlockingIOError):
            os.write(pipe, b"!")
