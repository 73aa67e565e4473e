"""Review decisions of duplicate clusters on SQL (table ``dedupe_reviews``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from isthmus.adapters.storage.tables import dedupe_reviews as _r
from isthmus.adapters.storage.unit_of_work import SqlUnitOfWork
from isthmus.quality import Decision, PairDecision


class SqlReviewRepository:
    """Pairs decided per dataset; deciding a pair again replaces the earlier decision."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def put(self, dataset: str, pairs: Sequence[PairDecision], actor: str, now: datetime) -> None:
        for pair in pairs:
            self._db.execute(delete(_r).where(self._is(dataset, pair)))
        if pairs:
            rows = [{"dataset": dataset, "first_record": p.first, "second_record": p.second,
                     "decision": p.decision.value, "decided_by": actor, "decided_at": now} for p in pairs]  # fmt: skip
            self._db.execute(insert(_r), rows)

    def remove(self, dataset: str, pairs: Sequence[PairDecision]) -> int:
        return sum(int(self._db.execute(delete(_r).where(self._is(dataset, p))).rowcount) for p in pairs)

    def list(self, dataset: str) -> list[dict[str, Any]]:
        query = select(_r).where(_r.c.dataset == dataset).order_by(_r.c.first_record, _r.c.second_record)
        return [
            {"first": r.first_record, "second": r.second_record, "decision": Decision(r.decision),
             "decided_by": r.decided_by, "decided_at": r.decided_at}
            for r in self._db.execute(query)
        ]  # fmt: skip

    @staticmethod
    def _is(dataset: str, pair: PairDecision) -> Any:
        return and_(
            _r.c.dataset == dataset, _r.c.first_record == pair.first, _r.c.second_record == pair.second
        )


def reviews_of(uow: object) -> SqlReviewRepository:
    """The review repository on a unit of work's transaction (decision and audit commit together)."""
    assert isinstance(uow, SqlUnitOfWork), "review decisions live in the SQL database"
    return SqlReviewRepository(uow.connection)
