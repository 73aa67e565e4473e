"""``isthmus audit``: check and read the hash-chained audit trail."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json, err_console

app = typer.Typer(help="The audit trail: verify the hash chain, list records.", no_args_is_help=True)


@app.command("verify")
def verify(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Exit 0 when the chain is intact; 1 naming the first broken record otherwise."""
    s = state(ctx)
    report = s.container().audit.verify(s.principal())
    if json_out:
        emit_json(report.as_dict())
    elif report.broken is None:
        console.print(f"audit trail intact: {report.checked} records, head {report.head_seq}")
    else:
        err_console.print(
            f"audit trail BROKEN at record {report.broken.seq}: {report.broken.reason}", markup=False
        )
    if report.broken is not None:
        raise typer.Exit(1)


@app.command("list")
def list_records(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option(help="Action or its prefix, e.g. catalog.")] = None,
    object_type: Annotated[str | None, typer.Option("--object-type")] = None,
    object_id: Annotated[str | None, typer.Option("--object-id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest records first."""
    s = state(ctx)
    records, total = s.container().audit.search(
        s.principal(), actor=actor, action=action, object_type=object_type, object_id=object_id, limit=limit
    )
    if json_out:
        emit_json({"total": total, "items": [r.as_dict() for r in records]})
        return
    table = Table("seq", "at (UTC)", "actor", "action", "object", title=f"audit trail ({total} records)")
    for r in records:
        table.add_row(
            str(r.seq),
            r.event.at.strftime("%Y-%m-%d %H:%M:%S"),
            r.event.actor,
            r.event.action,
            f"{r.event.object_type} {r.event.object_id}",
        )
    console.print(table)
