"""In-memory fakes of the message subscription and notification repositories."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, replace
from datetime import datetime

from isthmus.engine import MessageSubscription, Notification


@dataclass(slots=True)
class MessageRows:
    subscriptions: dict[int, MessageSubscription] = field(default_factory=dict)
    published: dict[str, dict[str, object]] = field(default_factory=dict)
    notifications: dict[int, Notification] = field(default_factory=dict)
    next_id: int = 1

    def copy(self) -> MessageRows:
        return MessageRows(
            dict(self.subscriptions), dict(self.published), dict(self.notifications), self.next_id
        )


class InMemoryMessageRepository:
    def __init__(self, rows: MessageRows) -> None:
        self._rows = rows

    def for_instance(self, instance_id: str) -> builtins.list[MessageSubscription]:
        return [s for s in self._rows.subscriptions.values() if s.instance_id == instance_id]

    def add(self, subscriptions: builtins.list[MessageSubscription]) -> None:
        for s in subscriptions:
            self._rows.subscriptions[self._rows.next_id] = replace(s, id=self._rows.next_id)
            self._rows.next_id += 1

    def remove(self, ids: builtins.list[int]) -> None:
        for i in ids:
            self._rows.subscriptions.pop(i, None)

    def find(self, message_name: str, correlation_key: str | None) -> builtins.list[MessageSubscription]:
        return [
            s
            for s in self._rows.subscriptions.values()
            if s.instance_id is not None
            and s.message_name == message_name
            and s.correlation_key == correlation_key
        ]

    def starts(self, message_name: str) -> builtins.list[MessageSubscription]:
        return [
            s
            for s in self._rows.subscriptions.values()
            if s.instance_id is None and s.message_name == message_name
        ]

    def replace_starts(self, process_key: str, subscriptions: builtins.list[MessageSubscription]) -> None:
        for i, s in list(self._rows.subscriptions.items()):
            if s.instance_id is None and s.process_key == process_key:
                del self._rows.subscriptions[i]
        self.add(subscriptions)

    def published(self, message_id: str) -> dict[str, object] | None:
        found = self._rows.published.get(message_id)
        return dict(found) if found is not None else None

    def remember(
        self,
        message_id: str,
        message_name: str,
        correlation_key: str | None,
        result: dict[str, object],
        now: datetime,
    ) -> bool:
        if message_id in self._rows.published:
            return False
        self._rows.published[message_id] = dict(result)
        return True


class InMemoryNotificationRepository:
    def __init__(self, rows: MessageRows) -> None:
        self._rows = rows

    def add(self, notification: Notification) -> Notification:
        stored = replace(notification, id=self._rows.next_id)
        self._rows.next_id += 1
        self._rows.notifications[stored.id] = stored
        return stored

    def for_recipients(
        self, user: str, groups: frozenset[str], *, unread_only: bool = True, limit: int = 100
    ) -> builtins.list[Notification]:
        found = [
            n
            for n in self._rows.notifications.values()
            if (
                (n.recipient_kind == "user" and n.recipient == user)
                or (n.recipient_kind == "group" and n.recipient in groups)
            )
            and (not unread_only or n.read_at is None)
        ]
        return sorted(found, key=lambda n: n.id, reverse=True)[:limit]

    def for_instance(self, instance_id: str) -> builtins.list[Notification]:
        return [n for n in self._rows.notifications.values() if n.instance_id == instance_id]

    def mark_read(self, notification_id: int, now: datetime) -> None:
        found = self._rows.notifications.get(notification_id)
        if found is not None:
            self._rows.notifications[notification_id] = replace(found, read_at=now)
