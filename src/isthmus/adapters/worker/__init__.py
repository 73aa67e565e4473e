"""The worker: runs due jobs and timers in a loop, in its own process or inside ``isthmus serve``;
real-time flow deliveries in a batch loop of their own."""

from isthmus.adapters.worker.delivery import DeliveryLoop, delivery_loop
from isthmus.adapters.worker.loop import WorkerLoop

__all__ = ["DeliveryLoop", "WorkerLoop", "delivery_loop"]
