"""``isthmus job``: see queued jobs and incidents; retry an incident after fixing its cause; purge
what retention allows."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json
from isthmus.errors import InvalidInput
from isthmus.jobs import JobState
from isthmus.settings import parse_duration

app = typer.Typer(help="Background jobs and incidents.", no_args_is_help=True)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    state_: Annotated[JobState | None, typer.Option("--state")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Newest jobs first; --state incident shows what needs an operator."""
    s = state(ctx)
    found = s.container().jobs.find(s.principal(), state_, limit)
    if json_out:
        emit_json([j.as_dict() for j in found])
        return
    table = Table("id", "kind", "state", "attempts", "run at (UTC)", "last error")
    for j in found:
        table.add_row(
            str(j.id),
            j.kind,
            j.state.value,
            f"{j.attempts}/{j.max_attempts}",
            j.run_at.strftime("%Y-%m-%d %H:%M:%S"),
            (j.last_error or "").splitlines()[0][:80] if j.last_error else "",
        )
    console.print(table)


@app.command("retry")
def retry(ctx: typer.Context, job_id: int) -> None:
    """Put an incident back in the queue with a fresh attempt budget."""
    s = state(ctx)
    job = s.container().jobs.retry(s.principal(), job_id)
    console.print(f"job {job.id} is ready again")


@app.command("purge")
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Age of what goes, e.g. 7d, 12h, 1d12h (default: ISTHMUS_JOB_RETENTION for jobs, "
            "ISTHMUS_MESSAGE_RETENTION for delivered messages).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Purge finished jobs and delivered outbox messages past retention (incidents and dead letters stay)."""
    age = None
    if older_than is not None:
        try:
            age = parse_duration(older_than)
        except ValueError as exc:
            raise InvalidInput("--older-than: {reason}", reason=str(exc)) from exc
    s = state(ctx)
    retention = s.container().retention
    assert retention is not None
    report = retention.purge(s.principal(), jobs=age, messages=age, dry_run=dry_run)
    if json_out:
        emit_json(report.as_dict())
        return
    verb = "would purge" if dry_run else "purged"
    console.print(
        f"{verb} {report.jobs} finished job(s), {report.messages} delivered message(s), "
        f"{report.chunk_files} orphaned chunk file(s)"
    )
