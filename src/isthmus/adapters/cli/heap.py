"""The garbage collector's settings for the long-running commands (``serve``, ``worker``, ``demo``).

Why: at 1,000 webhooks a second CPython's default thresholds (700, 10, 10) ran a young collection
every fraction of a millisecond and promoted every request's objects still in flight to the oldest
generation; full collections then walked the whole heap — a quarter of a million objects once
the app, SQLAlchemy and Polars are imported — for 100–170 ms each, stopping the event loop and
every request in it (measured with ``gc.callbacks`` in the API and the workers, bench/RESULTS.md,
Real time, round 5). Freezing what exists once the process is built takes those objects out of
every collection, and a larger young threshold lets short-lived objects die by reference counting
before a collection sees them: no full collection ran in 20 s at 1,000 messages a second.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20


def settle_heap() -> None:
    """Collect once, freeze the survivors (the modules, the app, the container), raise the thresholds."""
    gc.collect()
    gc.freeze()
    _, _, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, oldest)
