"""``isthmus system``: the systems registry (add, list, rotate-key). Credentials never printed."""

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
