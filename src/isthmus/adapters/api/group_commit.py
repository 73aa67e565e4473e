"""Group commit for webhooks: requests that arrive while a commit runs share the next one.

One commit is in flight at a time. A request joins the queue and waits; when the commit in flight
ends, everything queued goes out as the next group (at most ``max_group`` requests) in one
transaction on a worker thread. A lone request therefore waits for nothing but its own commit, and
under load the commits grow instead of queueing one transaction per request. Every request is
answered from its own outcome (see :meth:`isthmus.services.flow_hooks.WebhookIntake.accept`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from isthmus.services.flow_hooks import HookRequest
from isthmus.services.integration import AcceptReport

Accept = Callable[[Sequence[HookRequest]], list[AcceptReport | Exception]]


class GroupCommit:
    def __init__(self, accept: Accept, *, max_group: int = 1000) -> None:
        self._accept = accept
        self._max_group = max_group
        self._queue: list[tuple[HookRequest, asyncio.Future[AcceptReport]]] = []
        self._draining = False
        self.loop = asyncio.get_running_loop()
        self.groups = 0  # commits made, for tests and the bench

    async def submit(self, request: HookRequest) -> AcceptReport:
        """Wait until the commit holding ``request`` is done; its report, or its error raised."""
        future: asyncio.Future[AcceptReport] = self.loop.create_future()
        self._queue.append((request, future))
        if not self._draining:
            self._draining = True
            self.loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                group, self._queue = self._queue[: self._max_group], self._queue[self._max_group :]
                try:
                    outcomes = await asyncio.to_thread(self._accept, [request for request, _ in group])
                except Exception as error:  # accept answers per request; this is a last resort
                    outcomes = [error] * len(group)
                self.groups += 1
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._draining = False
