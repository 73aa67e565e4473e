"""Commands that run the product: ``db``, ``serve``, ``worker`` and ``demo``."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.heap import settle_heap
from isthmus.adapters.cli.output import console, emit_json
from isthmus.adapters.storage import migrate
from isthmus.adapters.worker import WorkerLoop, delivery_loop
from isthmus.demo import DEMO_USERS, deploy_demo_decisions, deploy_demo_processes, load_demo
from isthmus.demo.integration import GUIDE_FLOWS, create_erp_tables, flow_text
from isthmus.services.integration import DELIVER

SHUTDOWN_GRACE_S = 30.0

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the schema to the current version (safe to repeat)."""
    s = state(ctx)
    container = s.container(check_schema=False)
    before = migrate.current_revision(container.database.engine)
    container.database.upgrade()
    after = migrate.current_revision(container.database.engine)
    if after != before:
        container.audit.record_operation(
            s.principal(),
            "db.upgrade",
            "schema",
            "alembic",
            before={"revision": before},
            after={"revision": after},
        )
    console.print(f"database at revision {after}")


@db_app.command("current")
def db_current(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the schema revision; exit 1 when it is behind."""
    s = state(ctx)
    engine = s.container(check_schema=False).database.engine
    current, head = migrate.current_revision(engine), migrate.head_revision()
    if json_out:
        emit_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        console.print(f"current {current}, head {head}")
    if current != head:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("demo")(demo)


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(min=1, max=65535)]


def serve(
    ctx: typer.Context,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run jobs in this process.")] = False,
) -> None:
    """Serve the API and the web UI, with an in-process worker unless --no-worker."""
    _serve(ctx, host, port, with_worker=not no_worker)


def _serve(ctx: typer.Context, host: str, port: int, *, with_worker: bool) -> None:
    import uvicorn

    from isthmus.adapters.api.app import create_app

    container = state(ctx).container()
    app = create_app(container, run_worker=with_worker)
    settle_heap()
    # No access log (at this log level it was formatted per request, then dropped) and no
    # `server: uvicorn` header (it advertises the stack and costs every answer a header)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
        access_log=False,
        server_header=False,
    )


def worker(
    ctx: typer.Context,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Exit when no job is due.")] = False,
    poll: Annotated[float, typer.Option(min=0.05, max=60, help="Seconds between polls when idle.")] = 1.0,
) -> None:
    """Run background jobs and timers (many workers may share one PostgreSQL database)."""
    container = state(ctx).container()
    if until_idle:
        loop = WorkerLoop(container.job_runner(), container.database.unit_of_work, container.clock, poll)
        stats = loop.run_until_idle()
        console.print(
            f"ran {stats.claimed} job(s): {stats.done} done, {stats.retried} to retry, "
            f"{stats.incidents} incident(s)"
        )
        return
    if container.retention is not None:
        container.retention.ensure()  # the hourly purge of finished jobs and delivered messages
    # flow deliveries run in a batch loop of their own, woken as soon as a webhook commits
    delivery = delivery_loop(container, poll_s=min(poll, 0.5))
    runner = container.job_runner(skip_kinds=(DELIVER,))
    loop = WorkerLoop(runner, container.database.unit_of_work, container.clock, poll)

    def stop() -> None:
        loop.stop()
        delivery.stop()

    signal.signal(signal.SIGTERM, lambda *_: stop())
    settle_heap()
    thread = delivery.start_thread()
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        stop()
    thread.join(SHUTDOWN_GRACE_S)  # the batch in hand finishes and commits
    delivery.close()


def demo(
    ctx: typer.Context,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load the demo and exit.")] = False,
) -> None:
    """Migrate, load the guide's demo data (idempotent), then serve it."""
    s = state(ctx)
    container = s.container(check_schema=False)
    container.database.upgrade()
    report = load_demo(s.principal(), container.catalog, container.accounts)
    console.print(f"demo data: {report.processes_added} process(es) and {report.users_added} user(s) added")
    models = deploy_demo_decisions(s.principal(), container.decisions)
    console.print("decision models: " + ", ".join(f"{m.key} v{m.version}" for m in models), markup=False)
    processes = deploy_demo_processes(s.principal(), container.models)
    console.print("processes: " + ", ".join(processes), markup=False)
    sandbox = container.settings.data_dir / "demo"
    create_erp_tables(sandbox)  # the sandbox ERP, finance and OA/HR folders the guide's flows connect
    flows = [container.flows.deploy(s.principal(), flow_text(n, sandbox), f"{n}.yaml") for n in GUIDE_FLOWS]
    console.print(
        "flows: "
        + ", ".join(f"{f.flow_id} v{f.version}" for f in flows)
        + " (erp-fic-daily: daily at 22:00)",
        markup=False,
    )
    console.print(f"database: {container.settings.db_url}")
    console.print("logins (user / password):")
    for user in DEMO_USERS:
        console.print(f"  {user.username:<11} {user.password:<22} {user.role.value}")
    if no_serve:
        return
    console.print(f"\n[bold]Isthmus is running at http://{host}:{port}/[/bold]  (Ctrl+C to stop)")
    _serve(ctx, host, port, with_worker=True)
