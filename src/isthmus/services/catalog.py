"""Use cases of the process catalog (table 1): list, read, create, edit, delete, import, export."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isthmus.catalog import (
    Process,
    ProcessId,
    ProcessQuery,
    read_processes,
    settle_priority,
    validate_process,
    write_csv,
    write_xlsx,
)
from isthmus.errors import InvalidInput, NotFound
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWorkFactory

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

    def import_file(self, principal: Principal, data: bytes, filename: str) -> ImportReport:
        """All-or-nothing: a file with any bad row raises and writes nothing.

        Rows whose id exists update that process; new ids are created; processes absent from the
        file are left alone. One audit record per created or changed process.
        """
        principal.require("catalog:import")
        incoming = read_processes(data, filename)
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
            audit.record(
                uow, self._clock, principal, "catalog.import", "file", filename, after=report.as_dict()
            )
            uow.commit()
        return report

    def export(self, principal: Principal, fmt: str, language: str = "zh_CN") -> bytes:
        principal.require("catalog:export")
        processes = self.all(principal)
        if fmt == "xlsx":
            return write_xlsx(processes, language)
        if fmt == "csv":
            return write_csv(processes, language)
        raise InvalidInput("format: expected xlsx or csv, got {value!r}", value=fmt)
