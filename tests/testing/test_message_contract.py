"""The MessageRepository and NotificationRepository contracts, on the in-memory fake, SQLite and
PostgreSQL: key matching (NULL only with NULL), start rows apart from instance rows, replace,
rollback, idempotent message ids, notices by user or group."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from isthmus.engine import MessageSubscription, Notification
from isthmus.services.ports import UnitOfWorkFactory
from tests.testing.test_contracts import pg_database, sqlite_template, uow_factory  # noqa: F401  (fixtures)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _sub(
    instance: str | None, name: str, key: str | None, node: str = "n", token: int = 1
) -> MessageSubscription:
    return MessageSubscription(
        message_name=name,
        correlation_key=key,
        instance_id=instance,
        token=token if instance else 0,
        node_id=node,
        activation=1,
        process_key="p",
        process_version=1,
        created_at=NOW,
    )


def test_subscriptions(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    with uow_factory() as uow:
        uow.messages.add(
            [
                _sub("i1", "paid", "SO-1"),
                _sub("i2", "paid", "SO-2"),
                _sub("i3", "paid", None),
                _sub("i1", "cancel", "SO-1", node="b", token=2),
                _sub(None, "paid", None, node="start"),
            ]
        )
        uow.commit()
    with uow_factory() as uow:
        assert [s.instance_id for s in uow.messages.find("paid", "SO-1")] == ["i1"]
        assert [s.instance_id for s in uow.messages.find("paid", None)] == ["i3"]  # not the start row
        assert uow.messages.find("paid", "SO-9") == []
        assert [s.node_id for s in uow.messages.starts("paid")] == ["start"]
        stored = uow.messages.for_instance("i1")
        assert sorted(s.slot for s in stored) == [(1, "n", 1), (2, "b", 1)]
        assert all(s.id > 0 for s in stored)
        assert replace(stored[0], id=0) in (_sub("i1", "paid", "SO-1"), _sub("i1", "cancel", "SO-1", "b", 2))
        uow.messages.remove([s.id for s in stored])
        # not committed: thrown away
    with uow_factory() as uow:
        assert len(uow.messages.for_instance("i1")) == 2
        uow.messages.remove([s.id for s in uow.messages.for_instance("i1") if s.node_id == "b"])
        uow.messages.replace_starts("p", [_sub(None, "placed", None, node="s2")])
        uow.messages.replace_starts("other", [])
        uow.commit()
    with uow_factory() as uow:
        assert [s.node_id for s in uow.messages.for_instance("i1")] == ["n"]
        assert uow.messages.starts("paid") == []
        assert [s.node_id for s in uow.messages.starts("placed")] == ["s2"]
        assert len(uow.messages.find("paid", "SO-2")) == 1  # instance rows survive a start replace


def test_published_message_ids(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    with uow_factory() as uow:
        assert uow.messages.published("m-1") is None
        assert uow.messages.remember("m-1", "paid", "SO-1", {"correlated": ["i1"]}, NOW)
        assert not uow.messages.remember("m-1", "paid", "SO-1", {"correlated": []}, NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.messages.published("m-1") == {"correlated": ["i1"]}
        assert uow.messages.remember("m-2", "paid", None, {}, NOW)
        # rolled back
    with uow_factory() as uow:
        assert uow.messages.published("m-2") is None


def test_notifications(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    def note(kind: str, who: str) -> Notification:
        return Notification(
            instance_id="i1",
            task_id=7,
            node_id="check",
            recipient_kind=kind,
            recipient=who,
            text="库存检查 late",
            created_at=NOW,
        )

    with uow_factory() as uow:
        first = uow.notifications.add(note("user", "boss"))
        second = uow.notifications.add(note("group", "supervisor"))
        uow.notifications.add(note("group", "other"))
        uow.commit()
    assert first.id != second.id
    with uow_factory() as uow:
        mine = uow.notifications.for_recipients("boss", frozenset({"supervisor"}))
        assert [n.recipient for n in mine] == ["supervisor", "boss"]  # newest first
        assert mine[1].text == "库存检查 late"
        assert uow.notifications.for_recipients("boss", frozenset(), limit=1)[0].id == first.id
        uow.notifications.mark_read(first.id, NOW)
        uow.commit()
    with uow_factory() as uow:
        assert [n.recipient for n in uow.notifications.for_recipients("boss", frozenset())] == []
        read = uow.notifications.for_recipients("boss", frozenset(), unread_only=False)
        assert read[0].read_at == NOW
        assert len(uow.notifications.for_instance("i1")) == 3
