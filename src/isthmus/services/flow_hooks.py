"""Webhook acceptance in groups: the records of many concurrent requests stored in one transaction.

A webhook request is authenticated and mapped outside any transaction, against the flow's
definition cached in this process (:meth:`WebhookIntake.webhook`). Its records then wait for a
commit that holds them: the requests waiting at the same time go out together as one multi-row
insert of messages and one of delivery jobs (group commit), and each request is answered only once
the commit holding its rows succeeded, so "202" still means "durably stored" (the outbox pattern of
:mod:`isthmus.services.integration`).

The cache never decides alone: the group's transaction reads each flow's latest version, and a
request mapped with an older one fails with :class:`StaleWebhook` (the endpoint authenticates and
maps it again on the new definition). When the group's transaction fails, each request is tried
again alone, so one bad request cannot fail the others and every request gets its own answer.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from isthmus.errors import InvalidInput, NotFound
from isthmus.integration import (
    DeployedFlow,
    FlowDefinition,
    FlowMapper,
    MappedRecord,
    NewMessage,
    Rejected,
)
from isthmus.jobs import NewJob
from isthmus.security import Principal
from isthmus.services.integration import DELIVER, AcceptReport, FlowCache, FlowService
from isthmus.services.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Webhook:
    """What the endpoint needs of a deployed webhook flow: read once per version and process."""

    deployed: DeployedFlow
    flow: FlowDefinition
    mapper: FlowMapper

    @property
    def flow_id(self) -> str:
        return self.deployed.flow_id


@dataclass(frozen=True, slots=True)
class HookRequest:
    """One request's records, mapped, waiting for the commit that stores them."""

    webhook: Webhook
    principal: Principal
    results: tuple[MappedRecord | Rejected, ...]


class StaleWebhook(Exception):
    """The flow was deployed again after the request was mapped: map it again, then retry."""


class WebhookIntake:
    """Accepts webhook requests into the outbox, many per transaction."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, cache: FlowCache) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._mappers = cache
        self._lock = threading.Lock()
        self._cache: dict[str, Webhook] = {}

    def webhook(self, flow_id: str) -> Webhook:
        """The flow's cached definition (read from the database on first use or after a deploy).

        Needs no principal: the endpoint reads it to learn how to authenticate the caller."""
        with self._lock:
            found = self._cache.get(flow_id)
        if found is not None:
            return found
        with self._uow() as uow:
            deployed = uow.flows.get(flow_id)
        if deployed is None:
            raise NotFound("no flow with id {flow}", flow=flow_id)
        mapper = self._mappers.mapper(deployed)
        if mapper.flow.source.connector != "webhook":
            raise InvalidInput(
                "flow {flow} has a {kind} source, not a webhook",
                flow=flow_id,
                kind=mapper.flow.source.connector,
            )
        found = Webhook(deployed, mapper.flow, mapper)
        with self._lock:
            self._cache[flow_id] = found
        return found

    def cached(self, flow_id: str) -> Webhook | None:
        """The cached definition, if any (no database work: safe on an event loop)."""
        with self._lock:
            return self._cache.get(flow_id)

    def forget(self, flow_id: str) -> None:
        with self._lock:
            self._cache.pop(flow_id, None)

    @staticmethod
    def prepare(webhook: Webhook, principal: Principal, records: Sequence[Mapping[str, Any]]) -> HookRequest:
        """Check the permission and map the records: all the work that needs no database."""
        principal.require("flow:operate")
        return HookRequest(webhook, principal, tuple(webhook.mapper.map_record(r) for r in records))

    def accept(self, requests: Sequence[HookRequest]) -> list[AcceptReport | Exception]:
        """Store every request's messages and jobs in one transaction; one outcome per request."""
        try:
            return self._accept_together(requests)
        except Exception as error:
            if len(requests) == 1:
                return [error]
        outcomes: list[AcceptReport | Exception] = []
        for request in requests:  # the group failed: each alone, for an answer of its own
            try:
                outcomes.extend(self._accept_together([request]))
            except Exception as error:
                outcomes.append(error)
        return outcomes

    def _accept_together(self, requests: Sequence[HookRequest]) -> list[AcceptReport | Exception]:
        now = self._clock.now()
        # versions only grow: a request mapped on an older version than another of its flow in this
        # group is stale whatever the database holds; the newest one is checked by the insert itself
        versions: dict[str, int] = {}
        for request in requests:
            flow_id, version = request.webhook.flow_id, request.webhook.deployed.version
            versions[flow_id] = max(version, versions.get(flow_id, version))
        webhooks: dict[str, Webhook] = {}
        fresh: list[NewMessage] = []
        seen: set[tuple[str, str]] = set()
        for request in requests:
            flow_id = request.webhook.flow_id
            if request.webhook.deployed.version != versions[flow_id]:
                continue
            webhooks[flow_id] = request.webhook
            for result in request.results:
                if not isinstance(result, Rejected) and (flow_id, result.key) not in seen:
                    seen.add((flow_id, result.key))  # a key twice in the group: stored once
                    fresh.append(
                        NewMessage(
                            flow_id=flow_id,
                            idempotency_key=result.key,
                            payload=result.payload,
                            display=result.display,
                            row_number=result.row,
                        )
                    )
        # in key order: concurrent groups holding the same keys then lock them in one order
        # (a duplicate waits for the other insert instead of deadlocking with it)
        fresh.sort(key=lambda m: (m.flow_id, m.idempotency_key))
        # without malformed records the insert is the transaction's only write (no BEGIN/COMMIT)
        alone = not any(isinstance(r, Rejected) for request in requests for r in request.results)
        with self._uow() as uow:
            latest, ids = uow.flows.insert_delivering(
                fresh, versions, self._jobs(webhooks, now), uow.jobs, now, alone=alone
            )
            outcomes: list[AcceptReport | Exception | None] = []
            rejected: list[NewMessage] = []
            for request in requests:
                flow_id = request.webhook.flow_id
                if latest.get(flow_id) != request.webhook.deployed.version:
                    self.forget(flow_id)
                    outcomes.append(StaleWebhook(flow_id))
                    continue
                outcomes.append(None)
                rejected.extend(
                    FlowService.rejected_message(flow_id, result, now)
                    for result in request.results
                    if isinstance(result, Rejected)
                )
            uow.flows.add_messages(rejected, now)
            uow.commit()
        unclaimed = dict(ids)
        return [
            outcome if outcome is not None else self._report(request, unclaimed)
            for request, outcome in zip(requests, outcomes, strict=True)
        ]

    @staticmethod
    def _jobs(webhooks: dict[str, Webhook], now: datetime) -> dict[str, NewJob]:
        """Each flow's delivery job, but for the message id the insert adds to its payload."""
        return {
            flow_id: NewJob(
                kind=DELIVER,
                payload={"version": webhook.deployed.version, "test": False},
                run_at=now,
                policy=webhook.flow.delivery.retry_policy(),
            )
            for flow_id, webhook in webhooks.items()
        }

    @staticmethod
    def _report(request: HookRequest, ids: dict[tuple[str, str], int]) -> AcceptReport:
        """Counts as ``FlowService.accept`` gives them; a key stored by this group is claimed by its
        first request, any later one (in this group or after) counts it as a duplicate."""
        flow_id = request.webhook.flow_id
        accepted: list[int] = []
        duplicates = rejected = 0
        errors: list[tuple[int | None, str]] = []
        for result in request.results:
            if isinstance(result, Rejected):
                rejected += 1
                errors.append((result.row, result.error))
                continue
            message_id = ids.pop((flow_id, result.key), None)
            if message_id is None:
                duplicates += 1
            else:
                accepted.append(message_id)
        return AcceptReport(len(accepted), duplicates, rejected, tuple(accepted), tuple(errors))
