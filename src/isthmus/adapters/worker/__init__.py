"""The worker: runs due jobs and timers in a loop, in its own process or inside ``isthmus serve``."""

from isthmus.adapters.worker.loop import WorkerLoop

__all__ = ["WorkerLoop"]
