"""Many messages at once (a batch chunk's dead-lettered rows): on PostgreSQL they are COPYed in,
and a key the flow already holds (a file read again after a crash) still adds nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from isthmus.adapters.storage import Database
from isthmus.integration import MessageState, NewMessage

NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


def _rejected(rows: range) -> list[NewMessage]:
    return [
        NewMessage(
            flow_id="f",
            idempotency_key=f"rejected:{n}",
            payload={"order_id": f"SO-{n}", "note": 'tab\there, "quoted", back\\slash, 中文', "n": n},
            display={"order_id": f"SO-{n}", "phone": "138****"},
            state=MessageState.DEAD_LETTERED,
            last_error="phone must be 11 digits\nline two",
            row_number=n,
        )
        for n in rows
    ]


def test_many_messages_land_once_with_their_content_as_one_by_one(database: Database) -> None:
    with database.unit_of_work() as uow:
        assert uow.flows.add_messages(_rejected(range(150)), NOW) == 150
        uow.commit()
    for _ in range(2):  # read again: the first 150 are held, 150–299 new; then all held
        with database.unit_of_work() as uow:
            uow.flows.add_messages(_rejected(range(0, 300)), NOW)
            uow.commit()
    with database.engine.connect() as conn:
        ids = conn.execute(text("SELECT id, idempotency_key FROM flow_messages ORDER BY row_number")).all()
    assert [key for _, key in ids] == [f"rejected:{n}" for n in range(300)]
    with database.unit_of_work() as uow:
        stored = uow.flows.message(ids[7][0])
    assert stored is not None
    assert stored.payload == _rejected(range(7, 8))[0].payload
    assert stored.display == {"order_id": "SO-7", "phone": "138****"}
    assert stored.state is MessageState.DEAD_LETTERED
    assert stored.last_error == "phone must be 11 digits\nline two"
    assert stored.row_number == 7
    assert stored.created_at == NOW
    assert stored.attempts == 0
