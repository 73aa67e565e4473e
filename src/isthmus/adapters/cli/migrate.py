"""``isthmus migrate plan|run|verify|rollback|runs``: full load, incremental sync, verification, rollback.

The plan is a YAML file (see docs/quality.md); the run journal lives in the target database.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json, err_console
from isthmus.adapters.tabular import migrate
from isthmus.errors import InvalidInput, Location
from isthmus.quality import MigrationPlan, parse_plan

app = typer.Typer(help="Migrate data: plan (dry run), run (full or incremental), verify, rollback.",
                  no_args_is_help=True)  # fmt: skip

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PlanFile = Annotated[Path, typer.Argument(help="The plan (YAML): source, target, key, mapping.")]


def _plan(path: Path, ctx: typer.Context) -> MigrationPlan:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput("cannot read the plan: {reason}", location=Location(file=str(path)),
                           reason=type(error).__name__) from error  # fmt: skip
    plan = parse_plan(text, file=str(path))
    if any(spec.startswith("system:") for spec in (plan.source, plan.target)):
        # A system of the registry: its address and sealed password come from the Isthmus database.
        registry = state(ctx).container().systems.options_for
        plan = migrate.resolved(plan, registry)
    return plan


@app.command("plan")
def plan_command(ctx: typer.Context, plan: PlanFile, json_out: JsonFlag = False) -> None:
    """Dry run: how many rows would be inserted, updated, left alone, with samples. Writes nothing."""
    report = migrate.dry_run(_plan(plan, ctx))
    if json_out:
        emit_json(asdict(report))
        return
    console.print(f"insert {report.inserted}, update {report.updated}, unchanged {report.unchanged}")
    for sample in report.samples:
        console.print(f"  {sample}", markup=False)


@app.command("run")
def run_command(
    ctx: typer.Context,
    plan: PlanFile,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Only rows past the last watermark.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Load in batches with checkpoints; an interrupted run of the same plan resumes where it stopped."""
    with Progress(BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True,
                  disable=not err_console.is_terminal) as bar:  # fmt: skip
        task = bar.add_task("migrating", total=None)
        report = migrate.run(_plan(plan, ctx), incremental=incremental,
                             progress=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    if json_out:
        emit_json(asdict(report))
        return
    console.print(
        f"run {report.run_id}: inserted {report.inserted}, updated {report.updated} in {report.batches} batches"
    )


@app.command("verify")
def verify_command(ctx: typer.Context, plan: PlanFile, json_out: JsonFlag = False) -> None:
    """Compare row counts and per-key-range checksums of source and target; exit 1 when they differ."""
    result = migrate.verify(_plan(plan, ctx))
    if json_out:
        emit_json(result)
    else:
        console.print(f"source {result['source_rows']} rows, target {result['target_rows']}: "
                      f"{'equal' if result['ok'] else 'DIFFERENT'}")  # fmt: skip
    if not result["ok"]:
        raise typer.Exit(1)


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to undo.")],
    plan: Annotated[Path, typer.Option("--plan", help="The plan of that run (names the target).")],
    json_out: JsonFlag = False,
) -> None:
    """Restore the target to exactly its state before the run."""
    result = migrate.rollback(_plan(plan, ctx), run_id)
    if json_out:
        emit_json(result)
        return
    console.print(f"run {run_id} rolled back ({result['undone']} rows restored)")


@app.command("runs")
def runs_command(ctx: typer.Context, plan: PlanFile, json_out: JsonFlag = False) -> None:
    """The runs recorded in the target's journal, newest first."""
    found = migrate.runs(_plan(plan, ctx))
    if json_out:
        emit_json(found)
        return
    for r in found:
        console.print(
            f"{r['run_id']}  {r['mode']:<11} {r['status']:<11} +{r['inserted']} ~{r['updated']}  {r['started_at']}"
        )
