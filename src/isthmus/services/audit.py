"""Recording and checking the audit trail.

Every state-changing service call records exactly one event through :func:`record`, inside the
same unit of work as the change, so the change and its record commit or vanish together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from isthmus.security import AuditEvent, AuditRecord, ChainBreak, Principal, mask_personal_data, verify_chain
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory


def _json_safe(value: Any) -> Any:
    """What the database will give back: JSON types only, so the hash recomputes identically."""
    return None if value is None else json.loads(json.dumps(value, ensure_ascii=False, default=str))


def record(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    *,
    before: Any = None,
    after: Any = None,
) -> AuditRecord:
    event = AuditEvent(
        actor=principal.actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=_json_safe(mask_personal_data(before)),
        after=_json_safe(mask_personal_data(after)),
        at=clock.now(),
    )
    return uow.audit.append(event)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    checked: int
    head_seq: int
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "first_broken_seq": self.broken.seq if self.broken else None,
            "reason": self.broken.reason if self.broken else None,
        }


class AuditService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    def record_operation(
        self,
        principal: Principal,
        action: str,
        object_type: str,
        object_id: str,
        *,
        before: Any = None,
        after: Any = None,
    ) -> AuditRecord:
        """Audit an operator action that changes no domain object itself (a schema upgrade, say)."""
        with self._uow() as uow:
            appended = record(
                uow, self._clock, principal, action, object_type, object_id, before=before, after=after
            )
            uow.commit()
        return appended

    def verify(self, principal: Principal) -> VerifyReport:
        principal.require("audit:read")
        with self._uow() as uow:
            head = uow.audit.head()
            checked, broken = verify_chain(uow.audit.records(), head)
        return VerifyReport(checked=checked, head_seq=head[0] if head else 0, broken=broken)

    def search(
        self,
        principal: Principal,
        *,
        actor: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[AuditRecord], int]:
        principal.require("audit:read")
        with self._uow() as uow:
            return uow.audit.search(
                actor=actor,
                action=action,
                object_type=object_type,
                object_id=object_id,
                since=since,
                until=until,
                limit=min(max(limit, 1), 500),
                offset=max(offset, 0),
            )
