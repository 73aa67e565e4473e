"""``isthmus user``: accounts, passwords, API tokens and roles."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json
from isthmus.errors import InvalidInput
from isthmus.security import Role, permissions_of

app = typer.Typer(help="Users, passwords, API tokens and roles.", no_args_is_help=True)


def _password(given: str | None, from_stdin: bool) -> str:
    if given is not None and from_stdin:
        raise InvalidInput("--password and --password-stdin contradict each other: give one")
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if given is not None:
        return given
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _roles(values: list[str]) -> set[Role]:
    roles: set[Role] = set()
    for value in values:
        roles.update(Role.parse(part) for part in value.split(",") if part.strip())
    return roles


PasswordOpt = Annotated[
    str | None, typer.Option("--password", help="Visible to other local users; prefer the prompt.")
]
StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


@app.command("add")
def add(
    ctx: typer.Context,
    username: str,
    role: Annotated[list[str], typer.Option("--role", help="A role (repeat, or comma-separate).")],
    display_name: Annotated[str, typer.Option(help="Name shown in the UI, e.g. 张三.")] = "",
    password: PasswordOpt = None,
    password_stdin: StdinOpt = False,
) -> None:
    """Create a user with one or more roles."""
    s = state(ctx)
    user = s.container().accounts.add_user(
        s.principal(), username, _password(password, password_stdin), _roles(role), display_name
    )
    console.print(f"created {user.username} ({', '.join(sorted(r.value for r in user.roles))})")


@app.command("passwd")
def passwd(
    ctx: typer.Context, username: str, password: PasswordOpt = None, password_stdin: StdinOpt = False
) -> None:
    """Set a user's password (ends the user's open sessions)."""
    s = state(ctx)
    s.container().accounts.set_password(s.principal(), username, _password(password, password_stdin))
    console.print(f"password of {username} changed")


@app.command("token")
def token(
    ctx: typer.Context,
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
) -> None:
    """Issue an API bearer token; it is printed once and stored only as a hash."""
    s = state(ctx)
    clear = s.container().accounts.issue_token(
        s.principal(), username, name, timedelta(days=expires_days) if expires_days else None
    )
    typer.echo(clear)


@app.command("roles")
def roles(
    ctx: typer.Context,
    username: str,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Replace the roles.")] = None,
    add: Annotated[list[str] | None, typer.Option("--add", help="Add roles.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Remove roles.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show or change a user's roles."""
    s = state(ctx)
    accounts, principal = s.container().accounts, s.principal()
    user = accounts.user(principal, username)
    if set_ or add or remove:
        new = _roles(set_) if set_ else set(user.roles)
        new |= _roles(add or [])
        new -= _roles(remove or [])
        user = accounts.set_roles(principal, username, new)
    if json_out:
        emit_json(
            {
                "username": user.username,
                "roles": sorted(r.value for r in user.roles),
                "permissions": sorted({p for r in user.roles for p in permissions_of(r)}),
            }
        )
        return
    console.print(f"{user.username}: {', '.join(sorted(r.value for r in user.roles)) or '(none)'}")


@app.command("list")
def list_users(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List users."""
    s = state(ctx)
    found = s.container().accounts.users(s.principal())
    if json_out:
        emit_json([u.public() for u in found])
        return
    table = Table("user", "display name", "roles", "active")
    for u in found:
        table.add_row(
            u.username,
            u.display_name,
            ", ".join(sorted(r.value for r in u.roles)),
            "yes" if u.active else "no",
        )
    console.print(table)
