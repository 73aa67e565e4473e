"""Use cases of the process catalog (table 1): list, read, create, edit, delete, import, export,
and the per-node SLAs of a process.

SLAs are their own resource beside the row (``catalog.slas`` audit records): editing the row never
touches them, and a file without an SLA sheet (any CSV) leaves them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isthmus.catalog import (
    NodeSla,
    Process,
    ProcessId,
    ProcessQuery,
    read_processes,
    read_slas,
    settle_priority,
    validate_process,
    validate_slas,
    write_csv,
    write_xlsx,
)
from isthmus.errors import InvalidInput, NotFound
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

OBJECT = "process"


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _checked(process: Process) -> Process:
    process = settle_priority(process)
    problems = validate_process(process)
    if problems:
        raise InvalidInput("{first}", details=problems, first=problems[0].message)
    return process


def _checked_slas(slas: list[NodeSla]) -> tuple[NodeSla, ...]:
    problems = validate_slas(slas)
    if problems:
        raise InvalidInput("{first}", details=problems, first=problems[0].message)
    return tuple(NodeSla(s.node.strip(), s.duration.strip().upper()) for s in slas)


def _audit_slas(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    process_id: str,
    before: tuple[NodeSla, ...],
    after: tuple[NodeSla, ...],
    action: str,
) -> None:
    audit.record(
        uow,
        clock,
        principal,
        action,
        OBJECT,
        process_id,
        before={"slas": [{"node": s.node, "duration": s.duration} for s in before]},
        after={"slas": [{"node": s.node, "duration": s.duration} for s in after]},
    )


class CatalogService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    def query(self, principal: Principal, query: ProcessQuery | None = None) -> tuple[list[Process], int]:
        principal.require("catalog:read")
        with self._uow() as uow:
            return uow.processes.query(query or ProcessQuery())

    def all(self, principal: Principal) -> list[Process]:
        principal.require("catalog:read")
        with self._uow() as uow:
            return uow.processes.all()

    def get(self, principal: Principal, process_id: str) -> Process:
        principal.require("catalog:read")
        with self._uow() as uow:
            process = uow.processes.get(ProcessId(process_id))
        if process is None:
            raise NotFound("no process with id {id}", id=process_id)
        return process

    def create(self, principal: Principal, process: Process) -> Process:
        principal.require("catalog:write")
        process = _checked(process)
        with self._uow() as uow:
            stored = uow.processes.add(process, self._clock.now())
            audit.record(
                uow, self._clock, principal, "catalog.create", OBJECT, stored.id, after=stored.as_record()
            )
            uow.commit()
        return stored

    def update(self, principal: Principal, process: Process) -> Process:
        """Save ``process`` over the stored one whose ``version`` it carries (optimistic locking)."""
        principal.require("catalog:write")
        process = _checked(process)
        with self._uow() as uow:
            before = uow.processes.get(process.id)
            if before is None:
                raise NotFound("no process with id {id}", id=process.id)
            stored = uow.processes.update(process, self._clock.now())
            audit.record(
                uow,
                self._clock,
                principal,
                "catalog.update",
                OBJECT,
                stored.id,
                before=before.as_record(),
                after=stored.as_record(),
            )
            uow.commit()
        return stored

    def delete(self, principal: Principal, process_id: str) -> None:
        principal.require("catalog:write")
        with self._uow() as uow:
            before = uow.processes.get(ProcessId(process_id))
            if before is None:
                raise NotFound("no process with id {id}", id=process_id)
            uow.processes.delete(before.id)
            audit.record(
                uow, self._clock, principal, "catalog.delete", OBJECT, before.id, before=before.as_record()
            )
            uow.commit()

    # --- per-node SLAs ------------------------------------------------------------------------

    def slas(self, principal: Principal, process_id: str) -> tuple[NodeSla, ...]:
        """The process's key nodes and their SLAs, in the owner's order."""
        process = self.get(principal, process_id)
        with self._uow() as uow:
            return uow.processes.slas(process.id)

    def set_slas(self, principal: Principal, process_id: str, slas: list[NodeSla]) -> tuple[NodeSla, ...]:
        """Replace the process's SLA list (one ``catalog.slas`` audit record with before and after)."""
        principal.require("catalog:write")
        cleaned = _checked_slas(slas)
        with self._uow() as uow:
            process = uow.processes.get(ProcessId(process_id))
            if process is None:
                raise NotFound("no process with id {id}", id=process_id)
            before = uow.processes.slas(process.id)
            if before == cleaned:
                return before
            uow.processes.replace_slas(process.id, cleaned)
            _audit_slas(uow, self._clock, principal, process.id, before, cleaned, "catalog.slas")
            uow.commit()
        return cleaned

    def import_file(self, principal: Principal, data: bytes, filename: str) -> ImportReport:
        """All-or-nothing: a file with any bad row raises and writes nothing.

        Rows whose id exists update that process; new ids are created; processes absent from the
        file are left alone. One audit record per created or changed process. A workbook's SLA
        sheet replaces the SLAs of the processes on its table-1 sheet (one ``catalog.import.slas``
        record each that changed); without that sheet the stored SLAs stay.
        """
        principal.require("catalog:import")
        incoming = read_processes(data, filename)
        sla_sheet = read_slas(data, filename, [p.id for p in incoming])
        report = ImportReport()
        with self._uow() as uow:
            now = self._clock.now()
            for process in incoming:
                current = uow.processes.get(process.id)
                if current is None:
                    stored = uow.processes.add(process, now)
                    audit.record(
                        uow,
                        self._clock,
                        principal,
                        "catalog.import.create",
                        OBJECT,
                        stored.id,
                        after=stored.as_record(),
                    )
                    report.created.append(stored.id)
                    continue
                candidate = process.with_changes(
                    version=current.version, created_at=current.created_at, updated_at=current.updated_at
                )
                if candidate == current:
                    report.unchanged.append(process.id)
                    continue
                stored = uow.processes.update(candidate, now)
                audit.record(
                    uow,
                    self._clock,
                    principal,
                    "catalog.import.update",
                    OBJECT,
                    stored.id,
                    before=current.as_record(),
                    after=stored.as_record(),
                )
                report.updated.append(stored.id)
            for process_id, slas in (sla_sheet or {}).items():
                before = uow.processes.slas(process_id)
                if before != slas:
                    uow.processes.replace_slas(process_id, slas)
                    _audit_slas(uow, self._clock, principal, process_id, before, slas, "catalog.import.slas")
            audit.record(
                uow, self._clock, principal, "catalog.import", "file", filename, after=report.as_dict()
            )
            uow.commit()
        return report

    def export(self, principal: Principal, fmt: str, language: str = "zh_CN") -> bytes:
        principal.require("catalog:export")
        processes = self.all(principal)
        if fmt == "xlsx":
            with self._uow() as uow:
                slas = uow.processes.all_slas()
            return write_xlsx(processes, language, slas)
        if fmt == "csv":
            return write_csv(processes, language)
        raise InvalidInput("format: expected xlsx or csv, got {value!r}", value=fmt)
