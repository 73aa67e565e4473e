"""MigrationService on a fake executor: checks before queueing, a job's work runs once, failures are its result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from isthmus.bootstrap import Container
from isthmus.errors import InvalidInput, PermissionDenied
from isthmus.quality import MigrationPlan
from isthmus.security import Principal, Role
from isthmus.services.quality import MigrationAction, MigrationService
from tests.conftest import principal_with

PLAN = "source: crm.csv\ntarget: sqlite:///erp.db#kna1\nkey: kunnr\nmapping:\n  kunnr: code\n"


class FakeExecutor:
    """Records calls; ``refuse`` makes ``check`` fail, ``explode`` makes ``run`` fail."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refuse = False
        self.explode = False

    def check(self, plan: MigrationPlan) -> None:
        self.calls.append("check")
        if self.refuse:
            raise InvalidInput("the source has no column 'nom'", field="mapping.name1")

    def dry_run(self, plan: MigrationPlan) -> dict[str, Any]:
        self.calls.append("dry_run")
        return {"inserted": 1}

    def run(
        self, plan: MigrationPlan, *, incremental: bool, progress: Callable[[int, int], None]
    ) -> dict[str, Any]:
        self.calls.append("run")
        progress(5, 10)
        if self.explode:
            raise RuntimeError("disk full")
        progress(10, 10)
        return {"run_id": "r1", "inserted": 10}

    def verify(self, plan: MigrationPlan) -> dict[str, Any]:
        self.calls.append("verify")
        return {"ok": True}

    def rollback(self, plan: MigrationPlan, run_id: str) -> dict[str, Any]:
        self.calls.append(f"rollback {run_id}")
        return {"run_id": run_id, "status": "rolled_back", "undone": 10}

    def runs(self, plan: MigrationPlan) -> list[dict[str, Any]]:
        return []


@pytest.fixture
def service(container: Container, tmp_path: Path) -> tuple[MigrationService, FakeExecutor]:
    fake = FakeExecutor()
    built = MigrationService(container.database.unit_of_work, container.clock, tmp_path / "migrations", fake)
    container.job_handlers["migration"] = built
    return built, fake


def test_a_job_runs_its_work_once_and_keeps_progress(
    container: Container, admin: Principal, service: tuple[MigrationService, FakeExecutor]
) -> None:
    migrations, fake = service
    migrations.save_plan(admin, "crm", PLAN)
    queued = migrations.start(admin, "crm", MigrationAction.RUN)
    assert (queued["state"], fake.calls) == ("queued", ["check"])
    container.job_runner().run_until_idle()
    done = migrations.job(admin, queued["job"])
    assert (done["state"], done["done"], done["total"], done["result"]) == (
        "done",
        10,
        10,
        {"run_id": "r1", "inserted": 10},
    )
    # a worker that died after the work and before the job completed: the next claim does not redo it
    migrations.prepare(container.jobs.find(admin)[0])
    assert fake.calls == ["check", "run"]


def test_a_failing_run_is_the_jobs_result(
    container: Container, admin: Principal, service: tuple[MigrationService, FakeExecutor]
) -> None:
    migrations, fake = service
    migrations.save_plan(admin, "crm", PLAN)
    fake.explode = True
    queued = migrations.start(admin, "crm", MigrationAction.RUN)
    container.job_runner().run_until_idle()
    failed = migrations.job(admin, queued["job"])
    assert (failed["state"], failed["error"], failed["done"]) == ("failed", "RuntimeError: disk full", 5)


def test_bad_input_and_permissions_stop_before_queueing(
    container: Container, admin: Principal, service: tuple[MigrationService, FakeExecutor]
) -> None:
    migrations, fake = service
    migrations.save_plan(admin, "crm", PLAN)
    fake.refuse = True
    with pytest.raises(InvalidInput, match="no column 'nom'"):
        migrations.start(admin, "crm", MigrationAction.RUN)
    with pytest.raises(InvalidInput, match="rollback needs the run"):
        migrations.start(admin, "crm", MigrationAction.ROLLBACK)
    with pytest.raises(PermissionDenied):
        migrations.start(principal_with(Role.AUDITOR), "crm", MigrationAction.ROLLBACK, run_id="r1")
    with pytest.raises(InvalidInput, match="name: letters"):
        migrations.save_plan(admin, "../etc", PLAN)
    assert container.jobs.find(admin) == []
    fake.refuse = False
    migrations.start(principal_with(Role.AUDITOR), "crm", MigrationAction.VERIFY)  # reading is enough
    assert len(container.jobs.find(admin)) == 1
