"""``isthmus system``: the systems registry (add, list, show, test, delete, rotate-key). Credentials
never printed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json
from isthmus.errors import InvalidInput
from isthmus.integration import SystemKind
from isthmus.settings import Secret

system_app = typer.Typer(
    help="Systems the flows connect (ERP, CRM, OA, HR, finance …).", no_args_is_help=True
)


@system_app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    kind: Annotated[SystemKind, typer.Option("--kind")],
    owner: Annotated[str, typer.Option("--owner")] = "",
    setting: Annotated[list[str] | None, typer.Option("--setting", help="KEY=VALUE, repeatable.")] = None,
    credentials_file: Annotated[
        Path | None,
        typer.Option("--credentials-file", help="A JSON object of secrets; sealed with AES-256-GCM."),
    ] = None,
) -> None:
    """Register (or update) a system; credentials are encrypted before they are stored."""
    settings: dict[str, str] = {}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput("--setting: expected KEY=VALUE, got {item!r}", item=item)
        settings[key] = value
    credentials = None
    if credentials_file is not None:
        credentials = json.loads(credentials_file.read_text(encoding="utf-8"))
        if not isinstance(credentials, dict):
            raise InvalidInput("{path}: expected a JSON object", path=str(credentials_file))
    s = state(ctx)
    system = s.container().systems.register(
        s.principal(), name, kind, owner=owner, settings=settings, credentials=credentials
    )
    console.print(f"system {system.name} registered ({system.as_dict()['credentials']} credentials)")


@system_app.command("list")
def list_systems(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    s = state(ctx)
    found = [x.as_dict() for x in s.container().systems.list(s.principal())]
    if json_out:
        emit_json(found)
        return
    table = Table("name", "kind", "owner", "credentials", "key id")
    for x in found:
        table.add_row(x["name"], x["kind"], x["owner"], x["credentials"], x["key_id"] or "")
    console.print(table)


@system_app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    old_key_env: Annotated[
        str, typer.Option("--old-key-env", help="Variable holding the previous secret key.")
    ],
) -> None:
    """Re-wrap every credential sealed with the old ISTHMUS_SECRET_KEY under the current one."""
    old = os.environ.get(old_key_env)
    if not old:
        raise InvalidInput("the variable {name} is not set", name=old_key_env)
    s = state(ctx)
    count = s.container().systems.rotate(s.principal(), Secret(old))
    console.print(f"re-wrapped the credentials of {count} system(s)")


@system_app.command("show")
def show(ctx: typer.Context, name: str) -> None:
    """One system as JSON (credentials: only whether they are set, and the key id)."""
    s = state(ctx)
    emit_json(s.container().systems.get(s.principal(), name).as_dict())


@system_app.command("test")
def check_connection(
    ctx: typer.Context,
    name: str,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, max=300)] = 10.0,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Reach the system with the connector named by its ``connector`` setting; exit 1 when it fails."""
    s = state(ctx)
    check = s.container().systems.test_connection(s.principal(), name, timeout_s=timeout)
    if json_out:
        emit_json(check.as_dict())
    else:
        verdict = "ok" if check.ok else "FAILED"
        console.print(
            f"{name} ({check.connector}): {verdict} in {check.elapsed_ms:.0f} ms — {check.detail}",
            markup=False,
        )
    if not check.ok:
        raise typer.Exit(1)


@system_app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Remove a system and its sealed credentials (audited)."""
    s = state(ctx)
    s.container().systems.delete(s.principal(), name)
    console.print(f"system {name} deleted")
