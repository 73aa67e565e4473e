"""``isthmus feel eval``: evaluate one FEEL expression against a JSON context."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from isthmus.adapters.cli.output import console, emit_json, err_console
from isthmus.errors import InvalidInput
from isthmus.feel import compile_expression, from_feel, to_feel, to_string

app = typer.Typer(
    help="FEEL, the expression language of gateways, decisions and mappings.", no_args_is_help=True
)


def parse_context(text: str, option: str = "--context") -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "{option}: not JSON: {reason} (line {line}, column {column})",
            option=option,
            reason=exc.msg,
            line=exc.lineno,
            column=exc.colno,
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput('{option}: expected a JSON object such as {{"amount": 60000}}', option=option)
    return value


@app.command("eval")
def eval_expression(
    expression: Annotated[
        str, typer.Argument(help="A FEEL expression, e.g. 'amount > 50000 and region = \"华东\"'.")
    ],
    context: Annotated[str, typer.Option("--context", help="Variables as a JSON object.")] = "{}",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Evaluate EXPRESSION. A FEEL runtime error gives null and a warning (on stderr), as the spec says;
    a syntax error exits 2 naming line, column and the expected token."""
    variables = parse_context(context)
    compiled = compile_expression(expression, names=list(variables))
    warnings: list[str] = []
    value = compiled.evaluate({k: to_feel(v) for k, v in variables.items()}, warnings=warnings)
    for warning in warnings:
        err_console.print(f"warning: {warning}", markup=False)
    if json_out:
        emit_json(from_feel(value))
    else:
        console.print(to_string(value), markup=False)
