"""``isthmus instance`` and ``isthmus task``: run deployed processes from the command line.

Shapes (``--json``): ``instance start`` → ``{"id": ...}``; ``instance show`` → ``state``
(active|completed|terminated|incident), ``completed_activities`` (node ids in completion order),
``variables`` …; ``task list`` → objects with ``id``, ``activity_id``, ``name``,
``candidate_groups``, ``assignee``, ``due``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json
from isthmus.errors import InvalidInput

instance_app = typer.Typer(
    help="Process instances: start, show, message, fix, migrate.", no_args_is_help=True
)
task_app = typer.Typer(help="The task inbox: list and complete user tasks.", no_args_is_help=True)
message_app = typer.Typer(help="Messages: publish one to the instances waiting for it.", no_args_is_help=True)

VarsOption = Annotated[
    str, typer.Option("--vars", help="Variables as a JSON object, e.g. '{\"amount\": 120000}'.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def parse_vars(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise InvalidInput("--vars is not JSON: {error}", field="--vars", error=str(error)) from None
    if not isinstance(value, dict):
        raise InvalidInput("--vars must be a JSON object", field="--vars")
    return value


@instance_app.command("start")
def start(
    ctx: typer.Context,
    process_key: str,
    variables: VarsOption = "{}",
    business_key: Annotated[
        str | None, typer.Option("--business-key", help="The case id in the history.")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", min=1, help="Default: the latest.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Start an instance of a deployed process."""
    s = state(ctx)
    started = s.container().engine.start(
        s.principal(), process_key, parse_vars(variables), business_key=business_key, version=version
    )
    if json_out:
        emit_json({"id": started.id, "state": started.status, "version": started.definition_version})
        return
    console.print(f"started {process_key} v{started.definition_version}: {started.id} ({started.status})")


@instance_app.command("show")
def show(ctx: typer.Context, instance_id: str, json_out: JsonOption = False) -> None:
    """State, completed activities, variables, open tasks and incidents of an instance."""
    s = state(ctx)
    view = s.container().engine.show(s.principal(), instance_id)
    if json_out:
        emit_json(view.as_dict())
        return
    i = view.instance
    console.print(f"{i.id}  {i.definition_key} v{i.definition_version}  {view.state}")
    console.print("completed: " + " → ".join(view.completed_activities))
    if view.active_activities:
        console.print("waiting at: " + ", ".join(view.active_activities))
    console.print("variables: " + json.dumps(view.variables, ensure_ascii=False))
    for job in view.incidents:
        console.print(
            f"incident (job {job.id}): {(job.last_error or '').splitlines()[0][:200]}", markup=False
        )


@instance_app.command("list")
def list_instances(
    ctx: typer.Context,
    process_key: Annotated[str | None, typer.Option("--process")] = None,
    status: Annotated[str | None, typer.Option("--state")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    json_out: JsonOption = False,
) -> None:
    """Newest instances first."""
    s = state(ctx)
    found = s.container().engine.list(s.principal(), status=status, key=process_key, limit=limit)
    if json_out:
        emit_json([i.summary() for i in found])
        return
    table = Table("id", "process", "version", "state", "business key", "started (UTC)")
    for i in found:
        table.add_row(
            i.id,
            i.definition_key,
            str(i.definition_version),
            i.status,
            i.business_key or "",
            f"{i.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@instance_app.command("message")
def message(ctx: typer.Context, instance_id: str, name: str, variables: VarsOption = "{}") -> None:
    """Deliver message NAME (with variables) to the instance."""
    s = state(ctx)
    s.container().engine.correlate(s.principal(), instance_id, name, parse_vars(variables))
    console.print(f"message {name} delivered to {instance_id}")


@message_app.command("publish")
def publish(
    ctx: typer.Context,
    name: str,
    key: Annotated[
        str | None, typer.Option("--key", help="The correlation key (default: none, keyless waits only).")
    ] = None,
    variables: VarsOption = "{}",
    message_id: Annotated[
        str | None, typer.Option("--id", help="A message id: publishing the same id again does nothing.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Publish message NAME: deliver it to every instance waiting for it with KEY, and start the
    processes with a message start event for it."""
    s = state(ctx)
    result = s.container().engine.publish(
        s.principal(), name, key, parse_vars(variables), message_id=message_id
    )
    if json_out:
        emit_json(result.as_dict())
        return
    if result.duplicate:
        console.print(f"message {message_id} was published before; nothing done")
    for instance_id in result.correlated:
        console.print(f"delivered to {instance_id}")
    for instance_id in result.started:
        console.print(f"started {instance_id}")
    if not result.correlated and not result.started and not result.duplicate:
        console.print(f"no instance waits for {name} with key {key!r}; the message is dropped")


@instance_app.command("set-vars")
def set_vars(ctx: typer.Context, instance_id: str, variables: VarsOption) -> None:
    """Edit variables of an instance (to fix an incident before `isthmus job retry`)."""
    s = state(ctx)
    s.container().engine.set_variables(s.principal(), instance_id, parse_vars(variables))
    console.print(f"variables of {instance_id} updated")


@instance_app.command("terminate")
def terminate(ctx: typer.Context, instance_id: str) -> None:
    s = state(ctx)
    s.container().engine.terminate(s.principal(), instance_id)
    console.print(f"{instance_id} terminated")


@instance_app.command("migrate")
def migrate(
    ctx: typer.Context,
    instance_id: str,
    version: Annotated[int, typer.Option("--to-version", min=1)],
    mapping: Annotated[str, typer.Option("--map", help='Node id renames as JSON: {"old": "new"}.')] = "{}",
) -> None:
    """Move an instance that waits to another version of its process."""
    s = state(ctx)
    renames = {str(k): str(v) for k, v in parse_vars(mapping).items()}
    migrated = s.container().engine.migrate(s.principal(), instance_id, version, renames)
    console.print(f"{instance_id} now runs version {migrated.definition_version}")


@task_app.command("list")
def list_tasks(
    ctx: typer.Context,
    instance_id: Annotated[str | None, typer.Option("--instance")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only tasks assigned to me.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Open tasks: of one instance, or those I may work on."""
    s = state(ctx)
    principal = s.principal()
    everything = instance_id is None and not mine and s.as_user is None
    found = s.container().tasks.list(principal, instance_id=instance_id, mine=mine, everything=everything)
    if json_out:
        emit_json([t.as_dict() for t in found])
        return
    table = Table("id", "activity", "name", "candidate groups", "assignee", "due (UTC)")
    for t in found:
        due = f"{t.due:%Y-%m-%d %H:%M}" if t.due else ""
        table.add_row(str(t.id), t.activity_id, t.name, ", ".join(t.candidate_groups), t.assignee or "", due)
    console.print(table)


@task_app.command("complete")
def complete(ctx: typer.Context, task_id: int, variables: VarsOption = "{}") -> None:
    """Complete a task with the form's values (checked like the form in the browser)."""
    s = state(ctx)
    s.container().tasks.complete(s.principal(), task_id, parse_vars(variables))
    console.print(f"task {task_id} completed")


@task_app.command("claim")
def claim(ctx: typer.Context, task_id: int) -> None:
    s = state(ctx)
    s.container().tasks.claim(s.principal(), task_id)
    console.print(f"task {task_id} claimed")
