"""The composition root: settings → database → services. The only module that knows them all.

CLI commands, the API and the worker ask for a :class:`Container` and use its services; they never
construct repositories themselves.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from isthmus.adapters.connectors import make_target
from isthmus.adapters.connectors.flowtest import SCENARIOS, run_flow_test
from isthmus.adapters.connectors.ping import ping
from isthmus.adapters.connectors.sources import pull
from isthmus.adapters.storage import Database
from isthmus.adapters.storage.chunk_files import FileChunkStore
from isthmus.adapters.storage.flow_metrics import SqlFlowMetrics
from isthmus.adapters.storage.quality import reviews_of
from isthmus.adapters.storage.retention import SqlRetention
from isthmus.adapters.tabular.migrate import SqlMigrations
from isthmus.errors import ConfigurationError
from isthmus.security import Principal, cli_operator
from isthmus.services.accounts import AccountService, SessionTimeouts
from isthmus.services.audit import AuditService
from isthmus.services.catalog import CatalogService
from isthmus.services.clock import SystemClock
from isthmus.services.decisions import DecisionService
from isthmus.services.engine import EngineService
from isthmus.services.engine_batch import BatchRunner
from isthmus.services.engine_wiring import wire_engine
from isthmus.services.flow_hooks import WebhookIntake
from isthmus.services.flow_invoker import FlowServiceInvoker
from isthmus.services.flow_metrics import FlowMetricsService
from isthmus.services.flow_schedule import SCHEDULE, FlowScheduler
from isthmus.services.flow_tests import TEST as FLOW_TEST
from isthmus.services.flow_tests import FlowTestRuns
from isthmus.services.inbox import TaskService
from isthmus.services.integration import DELIVER, FlowService
from isthmus.services.jobs import DEFAULT_LEASE_S, JobService
from isthmus.services.messages import StartingModelService
from isthmus.services.mining import MiningService
from isthmus.services.models import ModelService
from isthmus.services.ports import Clock, JobHandler
from isthmus.services.quality import MIGRATION, MigrationService, QualityService
from isthmus.services.retention import PURGE, Retention
from isthmus.services.systems import SystemService
from isthmus.settings import Settings


@dataclass
class Container:
    settings: Settings
    database: Database
    clock: Clock
    catalog: CatalogService
    accounts: AccountService
    audit: AuditService
    jobs: JobService
    decisions: DecisionService
    models: ModelService
    mining: MiningService
    engine: EngineService
    tasks: TaskService
    flows: FlowService
    systems: SystemService
    flow_metrics: FlowMetricsService
    flow_tests: FlowTestRuns
    quality: QualityService
    migrations: MigrationService
    schedule: FlowScheduler | None = None
    job_handlers: dict[str, JobHandler] = field(default_factory=dict)
    retention: Retention | None = None  # the long-running worker starts its hourly purge
    hooks: WebhookIntake | None = None

    def __post_init__(self) -> None:
        if self.hooks is None:
            self.hooks = WebhookIntake(self.database.unit_of_work, self.clock, self.flows.cache)
        self.job_handlers.setdefault(DELIVER, self.flows.delivery)
        self.job_handlers.setdefault(FLOW_TEST, self.flow_tests.handle)
        self.job_handlers.setdefault(MIGRATION, self.migrations)
        if self.schedule is not None:
            self.job_handlers.setdefault(SCHEDULE, self.schedule)
        if self.retention is not None:
            self.job_handlers.setdefault(PURGE, self.retention)

    def job_runner(
        self,
        worker_id: str | None = None,
        *,
        batch: int = 200,
        lease_s: float = DEFAULT_LEASE_S,
        skip_kinds: Collection[str] = (),
    ) -> BatchRunner:
        """The worker's runner: engine jobs many instances to a transaction (``batch``), every
        other job one per transaction; ``skip_kinds`` are left to a runner of their own (the
        delivery loop)."""
        worker = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        if self.schedule is not None:
            self.schedule.ensure()  # flows deployed before the scheduler existed get their first run
        return BatchRunner(
            self.database.unit_of_work,
            self.clock,
            self.job_handlers,
            worker,
            batch=batch,
            lease_s=lease_s,
            skip_kinds=skip_kinds,
        )

    def close(self) -> None:
        self.flows.close()
        self.database.dispose()


def build(settings: Settings, *, clock: Clock | None = None, check_schema: bool = True) -> Container:
    """Wire every service to the database of ``settings``.

    Raises ``ConfigurationError`` when the schema is not current (unless ``check_schema`` is
    False, as for ``isthmus db upgrade`` itself).
    """
    database = Database(settings.db_url)
    if check_schema:
        try:
            database.require_current_schema()
        except ConfigurationError:
            database.dispose()  # no Container will exist to close it
            raise
    clock = clock or SystemClock()
    uow = database.unit_of_work
    timeouts = SessionTimeouts(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )
    systems = SystemService(uow, clock, settings.secret_key, pinger=ping)
    flows = FlowService(
        uow,
        clock,
        make_target,
        systems.connection,
        rules_dir=settings.data_dir,
        chunks=FileChunkStore(settings.data_dir / "flow-chunks"),
    )
    cursors = settings.data_dir / "flow-cursors"
    schedule = FlowScheduler(
        uow,
        clock,
        lambda who, flow, checkpoint: pull(
            flows, who, flow, cursor_dir=cursors, registry=systems.options_for, checkpoint=checkpoint
        ).as_dict(),
    )
    engine, tasks = wire_engine(
        uow, clock, settings.data_dir, flows=FlowServiceInvoker(flows, systems.connection)
    )
    return Container(
        settings=settings,
        database=database,
        clock=clock,
        catalog=CatalogService(uow, clock),
        accounts=AccountService(uow, clock, timeouts),
        audit=AuditService(uow, clock),
        jobs=JobService(uow, clock),
        flows=flows,
        systems=systems,
        schedule=schedule,
        flow_metrics=FlowMetricsService(SqlFlowMetrics(database.engine), clock, flows.get),
        flow_tests=FlowTestRuns(uow, clock, settings.data_dir / "flow-tests", _flow_tester, len(SCENARIOS)),
        quality=QualityService(uow, clock, reviews_of),
        migrations=MigrationService(
            uow, clock, settings.data_dir / "migrations", SqlMigrations(systems.options_for)
        ),
        decisions=DecisionService(uow, clock),
        models=StartingModelService(uow, clock, engine.starts),
        mining=MiningService(uow, clock, settings.data_dir / "logs", CatalogService(uow, clock)),
        engine=engine,
        tasks=tasks,
        job_handlers=engine.job_handlers(),
        retention=Retention(
            SqlRetention(database.engine),
            uow,
            clock,
            jobs=settings.job_retention,
            messages=settings.message_retention,
            chunks=FileChunkStore(settings.data_dir / "flow-chunks"),
        ),
    )


def cli_principal(container: Container, as_user: str | None) -> Principal:
    """The CLI acts as the local operator (``cli:<os user>``), or as the Isthmus user ``--as`` names."""
    if as_user:
        return container.accounts.user(cli_operator(_os_user()), as_user).principal()
    return cli_operator(_os_user())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return str(os.getuid())


def _flow_tester(
    text: str, sample: dict[str, Any], progress: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    """``FlowTestRuns``' tester: the CLI's fault scenarios, each result reported as it finishes."""
    results = run_flow_test(text, sample, on_result=lambda result: progress(result.as_dict()))
    return [result.as_dict() for result in results]
