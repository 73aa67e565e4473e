"""Group commit for webhooks: requests that arrive while a commit runs share the next one.

Up to ``in_flight`` commits run at a time, each on a worker thread with a connection of its own. A
request joins the queue; a free committer takes everything queued (at most ``max_group`` requests)
as one group in one transaction. A lone request therefore waits for nothing but its own commit,
and under load the groups grow instead of queueing one transaction per request. (Several commits
in flight would hide the database's round-trip time; the endpoint measured better with one, see
``COMMITS_IN_FLIGHT`` in :mod:`isthmus.adapters.api.routes.hooks`.) Every request is
answered from its own outcome (see :meth:`isthmus.services.flow_hooks.WebhookIntake.accept`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from isthmus.services.flow_hooks import HookRequest
from isthmus.services.integration import AcceptReport

Accept = Callable[[Sequence[HookRequest]], list[AcceptReport | Exception]]


class GroupCommit:
    def __init__(self, accept: Accept, *, in_flight: int = 1, max_group: int = 1000) -> None:
        self._accept = accept
        self._in_flight = in_flight
        self._max_group = max_group
        self._queue: list[tuple[HookRequest, asyncio.Future[AcceptReport]]] = []
        self._draining = 0
        self.loop = asyncio.get_running_loop()
        self.groups = 0  # commits made, for tests and the bench

    async def submit(self, request: HookRequest) -> AcceptReport:
        """Wait until the commit holding ``request`` is done; its report, or its error raised."""
        future: asyncio.Future[AcceptReport] = self.loop.create_future()
        self._queue.append((request, future))
        if self._draining < self._in_flight:
            self._draining += 1
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
            self._draining -= 1
