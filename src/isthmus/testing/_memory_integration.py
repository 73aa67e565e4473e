"""In-memory fake of ``FlowRepository`` (flows and their outbox), same contract as the SQL one."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from isthmus.errors import Conflict
from isthmus.integration import (
    DeployedFlow,
    FlowMessage,
    MessageState,
    NewMessage,
    System,
    TestStatus,
    records_in,
)
from isthmus.jobs import JobId, NewJob


class _Queue(Protocol):
    def enqueue_many(self, new_jobs: Sequence[NewJob], now: datetime) -> None: ...

    def complete_many(self, job_ids: list[JobId], worker: str, now: datetime) -> bool: ...


@dataclass(slots=True)
class IntegrationRows:
    flows: dict[str, tuple[DeployedFlow, ...]] = field(default_factory=dict)
    messages: dict[int, FlowMessage] = field(default_factory=dict)
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    next_id: int = 1
    systems: dict[str, System] = field(default_factory=dict)

    def copy(self) -> IntegrationRows:
        return IntegrationRows(
            dict(self.flows), dict(self.messages), dict(self.keys), self.next_id, dict(self.systems)
        )


class InMemoryFlowRepository:
    def __init__(self, rows: IntegrationRows) -> None:
        self._rows = rows

    def deploy(self, flow_id: str, text: str, *, deployed_by: str, now: datetime) -> DeployedFlow:
        latest = self.get(flow_id)
        if latest is not None and latest.text == text:
            return latest
        version = 1 if latest is None else latest.version + 1
        if any(f.version == version for f in self._rows.flows.get(flow_id, ())):
            raise Conflict(
                "flow {flow} version {version} was deployed concurrently", flow=flow_id, version=version
            )
        stored = DeployedFlow(
            flow_id=flow_id, version=version, text=text, deployed_at=now, deployed_by=deployed_by
        )
        self._rows.flows[flow_id] = (*self._rows.flows.get(flow_id, ()), stored)
        return stored

    def get(self, flow_id: str) -> DeployedFlow | None:
        versions = self._rows.flows.get(flow_id, ())
        return versions[-1] if versions else None

    def list(self) -> list[DeployedFlow]:
        return [versions[-1] for _, versions in sorted(self._rows.flows.items())]

    def record_test(self, flow_id: str, status: TestStatus, now: datetime) -> None:
        versions = self._rows.flows.get(flow_id, ())
        if versions:
            self._rows.flows[flow_id] = (
                *versions[:-1],
                replace(versions[-1], test_status=status, tested_at=now),
            )

    def add_message(self, message: NewMessage, now: datetime) -> FlowMessage | None:
        slot = (message.flow_id, message.idempotency_key)
        if slot in self._rows.keys:
            return None
        stored = FlowMessage(
            id=self._rows.next_id,
            flow_id=message.flow_id,
            idempotency_key=message.idempotency_key,
            state=message.state,
            payload=copy.deepcopy(message.payload),
            display=copy.deepcopy(message.display),
            last_error=message.last_error,
            row_number=message.row_number,
            created_at=now,
            updated_at=now,
        )
        self._rows.messages[stored.id] = stored
        self._rows.keys[slot] = stored.id
        self._rows.next_id += 1
        return copy.deepcopy(stored)

    def add_messages(self, messages: Sequence[NewMessage], now: datetime) -> int:
        return sum(self.add_message(m, now) is not None for m in messages)

    def latest_versions(self, flow_ids: Collection[str]) -> dict[str, int]:
        return {f: self._rows.flows[f][-1].version for f in flow_ids if self._rows.flows.get(f)}

    def insert_messages(self, messages: Sequence[NewMessage], now: datetime) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for message in messages:
            stored = self.add_message(message, now)
            if stored is not None:
                found[(message.flow_id, message.idempotency_key)] = stored.id
        return found

    def wake_deliveries(self) -> None:
        return None

    def insert_delivering(
        self,
        messages: Sequence[NewMessage],
        versions: Mapping[str, int],
        jobs: Mapping[str, NewJob],
        queue: _Queue,
        now: datetime,
        *,
        alone: bool = False,
    ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        latest = self.latest_versions(versions)
        ids = self.insert_messages([m for m in messages if latest.get(m.flow_id) == versions[m.flow_id]], now)
        queue.enqueue_many(
            [
                replace(jobs[flow_id], payload={**jobs[flow_id].payload, "message": message_id})
                for (flow_id, _key), message_id in ids.items()
            ],
            now,
        )
        return latest, ids

    def message(self, message_id: int) -> FlowMessage | None:
        found = self._rows.messages.get(message_id)
        return copy.deepcopy(found) if found else None

    def messages_by_id(self, message_ids: Collection[int]) -> dict[int, FlowMessage]:
        return {i: copy.deepcopy(self._rows.messages[i]) for i in message_ids if i in self._rows.messages}

    def complete_delivered(
        self,
        delivered: Sequence[tuple[int, int]],
        job_ids: builtins.list[JobId],
        queue: _Queue,
        worker: str,
        now: datetime,
        *,
        alone: bool = False,
    ) -> bool:
        self.mark_delivered(delivered, now)
        return queue.complete_many(job_ids, worker, now)

    def claim_deliveries(self, kind: str, worker: str, now: datetime, lease_s: float, limit: int) -> None:
        return None  # claimed and read separately, as on SQLite

    def delivery_messages(
        self, message_ids: Collection[int]
    ) -> tuple[dict[int, FlowMessage], dict[str, int]]:
        found = self.messages_by_id(message_ids)
        return found, self.latest_versions({m.flow_id for m in found.values()})

    def mark_delivered(self, delivered: Sequence[tuple[int, int]], now: datetime) -> None:
        for message_id, attempts in delivered:
            stored = self._rows.messages[message_id]
            self._rows.messages[message_id] = replace(
                stored,
                state=MessageState.DELIVERED,
                attempts=attempts,
                updated_at=now,
                delivered_at=now,
            )

    def replace_payload(
        self, message_id: int, key: str, payload: dict[str, Any], display: dict[str, Any]
    ) -> None:
        stored = self._rows.messages[message_id]
        holder = self._rows.keys.get((stored.flow_id, key))
        if holder is not None and holder != message_id:
            raise Conflict("another message of this flow already has the key {key}", key=key)
        del self._rows.keys[(stored.flow_id, stored.idempotency_key)]
        self._rows.keys[(stored.flow_id, key)] = message_id
        self._rows.messages[message_id] = replace(
            stored, idempotency_key=key, payload=copy.deepcopy(payload), display=copy.deepcopy(display)
        )

    def save_message(self, message: FlowMessage) -> None:
        stored = self._rows.messages[message.id]
        self._rows.messages[message.id] = replace(
            stored,
            state=message.state,
            attempts=message.attempts,
            last_error=message.last_error,
            updated_at=message.updated_at,
            delivered_at=message.delivered_at,
        )

    def messages(
        self, *, flow_id: str | None = None, states: tuple[MessageState, ...] = (), limit: int = 100
    ) -> builtins.list[FlowMessage]:
        found = [
            m
            for _, m in sorted(self._rows.messages.items())
            if (flow_id is None or m.flow_id == flow_id) and (not states or m.state in states)
        ]
        return copy.deepcopy(found[:limit])

    def counts(self, flow_id: str) -> dict[MessageState, int]:
        result: dict[MessageState, int] = {}
        for m in self._rows.messages.values():
            if m.flow_id == flow_id:
                result[m.state] = result.get(m.state, 0) + records_in(m.idempotency_key)
        return result


class InMemorySystemRepository:
    def __init__(self, rows: IntegrationRows) -> None:
        self._rows = rows

    def get(self, name: str) -> System | None:
        found = self._rows.systems.get(name)
        return copy.deepcopy(found) if found else None

    def put(self, system: System, now: datetime) -> None:
        before = self._rows.systems.get(system.name)
        created = before.created_at if before else now
        self._rows.systems[system.name] = replace(copy.deepcopy(system), created_at=created, updated_at=now)

    def list(self) -> builtins.list[System]:
        return [copy.deepcopy(s) for _, s in sorted(self._rows.systems.items())]

    def delete(self, name: str) -> bool:
        return self._rows.systems.pop(name, None) is not None
