"""Entry point of ``isthmus``: global options, sub-commands, and the one place errors become
exit codes (0 ok, 1 the command ran and found a problem, 2 bad input or usage).

``--db URL`` and ``--as USER`` are accepted anywhere on the command line (before or after the
sub-command), because every command works on a database and as someone.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import typer

from isthmus import __version__
from isthmus.adapters.cli import (
    admin,
    audit,
    catalog,
    data,
    dmn,
    engine,
    feel,
    flows,
    jobs,
    migrate,
    mining,
    models,
    systems,
    users,
)
from isthmus.adapters.cli.context import CliState
from isthmus.adapters.cli.output import err_console
from isthmus.errors import IntegrationFailure, IsthmusError

app = typer.Typer(
    name="isthmus",
    help="Isthmus: discover, design, connect, run, measure and govern business processes.\n\n"
    "Global options, accepted anywhere: --db URL (database; default ISTHMUS_DB_URL or a SQLite file in "
    "the data dir) and --as USER (act as this Isthmus user instead of the local operator cli:<os user>).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(catalog.app, name="catalog")
app.add_typer(users.app, name="user")
app.add_typer(audit.app, name="audit")
app.add_typer(jobs.app, name="job")
app.add_typer(flows.flow_app, name="flow")
app.add_typer(flows.dlq_app, name="dlq")
app.add_typer(systems.system_app, name="system")
admin.register(app)
app.add_typer(feel.app, name="feel")
app.add_typer(dmn.app, name="dmn")
app.add_typer(data.app, name="data")
app.add_typer(migrate.app, name="migrate")
app.add_typer(engine.instance_app, name="instance")
app.add_typer(engine.task_app, name="task")
app.add_typer(engine.message_app, name="message")
app.add_typer(mining.log_app, name="log")
app.add_typer(mining.mine_app, name="mine")
app.add_typer(models.bpmn_app, name="bpmn")
models.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"isthmus {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    if not isinstance(ctx.obj, CliState):
        ctx.obj = CliState()


GLOBAL_OPTIONS = ("--db", "--as")


class UsageProblem(Exception):
    """A malformed global option (found before click parses anything)."""


def split_global_options(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Take ``--db URL`` / ``--db=URL`` / ``--as USER`` out of ``argv`` wherever they stand
    (up to a ``--`` separator); raise UsageError when a value is missing."""
    rest: list[str] = []
    found: dict[str, str] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name, eq, value = arg.partition("=")
        if name in GLOBAL_OPTIONS:
            if not eq:
                if i + 1 >= len(args):
                    raise UsageProblem(f"{name} needs a value")
                value = args[i + 1]
                i += 1
            found[name] = value
        else:
            rest.append(arg)
        i += 1
    return rest, found


def exit_code_for(error: IsthmusError) -> int:
    return 1 if isinstance(error, IntegrationFailure) else 2


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    logging.basicConfig(
        level=os.environ.get("ISTHMUS_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    state = CliState()
    try:
        args, options = split_global_options(sys.argv[1:] if argv is None else argv)
        state.db_url, state.as_user = options.get("--db"), options.get("--as")
        command = typer.main.get_command(app)
        # Standalone mode: click itself reports usage errors (exit 2) and turns typer.Exit into
        # SystemExit; only our own errors and surprises reach the handlers below.
        command.main(args=args, prog_name="isthmus", standalone_mode=True, obj=state)
        return 0
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except UsageProblem as usage:
        err_console.print(f"error: {usage}", markup=False)
        return 2
    except IsthmusError as error:
        err_console.print(f"error: {error.message}", markup=False, soft_wrap=True)
        for detail in error.details[:20]:
            err_console.print(f"  {detail.message}", markup=False, soft_wrap=True)
        return exit_code_for(error)
    except KeyboardInterrupt:
        return 130
    except Exception as unexpected:
        if os.environ.get("ISTHMUS_DEBUG"):
            raise
        err_console.print(
            f"internal error: {type(unexpected).__name__}: {unexpected} (set ISTHMUS_DEBUG=1 for details)",
            markup=False,
            soft_wrap=True,
        )
        return 70
    finally:
        state.close()


def main() -> None:  # pragma: no cover - console script
    sys.exit(run())
