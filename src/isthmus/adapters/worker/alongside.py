"""Deliver while pulling: ``isthmus flow run`` reads a source in chunks, and every chunk it stores
is a delivery job. Run after the pull, the target's writes wait for the whole read; run beside it
in a thread, the target writes chunk *n* while the source reads chunk *n + 1* (the writes are
mostly the database server's work and I/O, which leave the GIL free). Measured on the 1M-row
orders bench: see bench/RESULTS.md, "Batch"."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from isthmus.services.jobs import Runner


@contextmanager
def running_alongside(runner: Runner, idle_wait_s: float = 0.05) -> Iterator[None]:
    """Run ``runner``'s due jobs in a thread for as long as the block runs. The runner is used
    by that thread only. A failure of the runner is raised when the block ends (after the
    block's own error, if it had one)."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            while not stop.is_set():
                if runner.run_due().claimed == 0:
                    stop.wait(idle_wait_s)
        except BaseException as exc:  # handed to the caller's thread below
            failures.append(exc)

    thread = threading.Thread(target=run, name="isthmus-deliver-alongside", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    if failures:
        raise failures[0]
