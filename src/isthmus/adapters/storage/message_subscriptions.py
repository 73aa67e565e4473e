"""Message subscriptions, published message ids and escalation notifications on SQL."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.tables import (
    engine_notifications,
    inserted_id,
    message_subscriptions,
    published_messages,
)
from isthmus.engine import MessageSubscription, Notification

_s, _p, _n = message_subscriptions, published_messages, engine_notifications


def _subscription(row: Any) -> MessageSubscription:
    return MessageSubscription(
        id=row.id,
        message_name=row.message_name,
        correlation_key=row.correlation_key,
        instance_id=row.instance_id,
        token=row.token,
        node_id=row.node_id,
        activation=row.activation,
        process_key=row.process_key,
        process_version=row.process_version,
        created_at=row.created_at,
    )


def _values(s: MessageSubscription) -> dict[str, Any]:
    return {
        "message_name": s.message_name,
        "correlation_key": s.correlation_key,
        "instance_id": s.instance_id,
        "token": s.token,
        "node_id": s.node_id,
        "activation": s.activation,
        "process_key": s.process_key,
        "process_version": s.process_version,
        "created_at": s.created_at,
    }


class SqlMessageRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def for_instance(self, instance_id: str) -> builtins.list[MessageSubscription]:
        rows = self._db.execute(select(_s).where(_s.c.instance_id == instance_id).order_by(_s.c.id))
        return [_subscription(r) for r in rows.all()]

    def add(self, subscriptions: builtins.list[MessageSubscription]) -> None:
        if subscriptions:
            self._db.execute(insert(_s), [_values(s) for s in subscriptions])

    def remove(self, ids: builtins.list[int]) -> None:
        if ids:
            self._db.execute(delete(_s).where(_s.c.id.in_(ids)))

    def find(self, message_name: str, correlation_key: str | None) -> builtins.list[MessageSubscription]:
        key = (
            _s.c.correlation_key.is_(None)
            if correlation_key is None
            else _s.c.correlation_key == correlation_key
        )
        query = (
            select(_s)
            .where(_s.c.message_name == message_name, key, _s.c.instance_id.is_not(None))
            .order_by(_s.c.id)
        )
        return [_subscription(r) for r in self._db.execute(query).all()]

    def starts(self, message_name: str) -> builtins.list[MessageSubscription]:
        query = (
            select(_s).where(_s.c.message_name == message_name, _s.c.instance_id.is_(None)).order_by(_s.c.id)
        )
        return [_subscription(r) for r in self._db.execute(query).all()]

    def replace_starts(self, process_key: str, subscriptions: builtins.list[MessageSubscription]) -> None:
        self._db.execute(delete(_s).where(_s.c.process_key == process_key, _s.c.instance_id.is_(None)))
        self.add(subscriptions)

    def published(self, message_id: str) -> dict[str, object] | None:
        row = self._db.execute(select(_p.c.result).where(_p.c.message_id == message_id)).first()
        return dict(row.result) if row else None

    def remember(
        self,
        message_id: str,
        message_name: str,
        correlation_key: str | None,
        result: dict[str, object],
        now: datetime,
    ) -> bool:
        try:
            with self._db.begin_nested():
                self._db.execute(
                    insert(_p).values(
                        message_id=message_id,
                        message_name=message_name,
                        correlation_key=correlation_key,
                        result=result,
                        published_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True


def _notification(row: Any) -> Notification:
    return Notification(
        id=row.id,
        instance_id=row.instance_id,
        task_id=row.task_id,
        node_id=row.node_id,
        recipient_kind=row.recipient_kind,
        recipient=row.recipient,
        text=row.text,
        created_at=row.created_at,
        read_at=row.read_at,
    )


class SqlNotificationRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, notification: Notification) -> Notification:
        new_id = inserted_id(
            self._db.execute(
                insert(_n).values(
                    instance_id=notification.instance_id,
                    task_id=notification.task_id,
                    node_id=notification.node_id,
                    recipient_kind=notification.recipient_kind,
                    recipient=notification.recipient,
                    text=notification.text,
                    created_at=notification.created_at,
                    read_at=notification.read_at,
                )
            )
        )
        return Notification(
            **{**{f: getattr(notification, f) for f in Notification.__dataclass_fields__}, "id": new_id}
        )

    def for_recipients(
        self, user: str, groups: frozenset[str], *, unread_only: bool = True, limit: int = 100
    ) -> builtins.list[Notification]:
        who = or_(
            (_n.c.recipient_kind == "user") & (_n.c.recipient == user),
            (_n.c.recipient_kind == "group") & _n.c.recipient.in_(sorted(groups)),
        )
        query = select(_n).where(who).order_by(_n.c.id.desc()).limit(limit)
        if unread_only:
            query = query.where(_n.c.read_at.is_(None))
        return [_notification(r) for r in self._db.execute(query).all()]

    def for_instance(self, instance_id: str) -> builtins.list[Notification]:
        rows = self._db.execute(select(_n).where(_n.c.instance_id == instance_id).order_by(_n.c.id))
        return [_notification(r) for r in rows.all()]

    def mark_read(self, notification_id: int, now: datetime) -> None:
        self._db.execute(update(_n).where(_n.c.id == notification_id).values(read_at=now))


__all__ = ["SqlMessageRepository", "SqlNotificationRepository"]
