"""``isthmus dmn``: evaluate a DMN decision, or run a DMN TCK folder.

Thin on purpose: parsing, evaluation and the TCK live in :mod:`isthmus.decisions`. Errors from the
domain (``IsthmusError``) print one line ``error: <message>`` on stderr and exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from isthmus.decisions import TckReport, evaluate, load_dmn_set, run_tck, to_json_value
from isthmus.errors import InvalidInput, IsthmusError

app = typer.Typer(help="DMN decisions: evaluate models and run the DMN TCK.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _exit(code: int) -> NoReturn:
    # SystemExit rather than typer.Exit: a host that runs click with standalone_mode=False gets
    # typer.Exit's code back as a return value and may drop it; SystemExit always reaches the shell.
    sys.stdout.flush()
    sys.exit(code)


def _fail(error: IsthmusError) -> NoReturn:
    sys.stderr.write(f"error: {error.message}\n")
    _exit(2)


def _inputs(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "--input is not JSON: {reason} (line {line}, column {column})",
            reason=exc.msg,
            line=exc.lineno,
            column=exc.colno,
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput("--input must be a JSON object")
    return value


@app.command("eval")
def eval_decision(
    model: Annotated[Path, typer.Argument(help="The .dmn file (imported models are read beside it).")],
    decision: Annotated[str, typer.Option("--decision", help="Decision (or decision service) name or id.")],
    input_json: Annotated[str, typer.Option("--input", help="Inputs as a JSON object.")] = "{}",
    json_out: JsonFlag = False,
) -> None:
    """Evaluate one decision and print its result (JSON with --json)."""
    try:
        result = evaluate(load_dmn_set(model), decision, _inputs(input_json))
    except IsthmusError as exc:
        _fail(exc)
    value = to_json_value(result.value)
    if json_out:
        sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    else:
        console = Console(highlight=False)
        console.print(f"{result.decision_name}: {json.dumps(value, ensure_ascii=False)}")
        for warning in result.warnings:
            console.print(f"warning: {warning}", style="yellow")


@app.command("tck")
def tck(
    directory: Annotated[Path, typer.Argument(help="A folder of TCK test folders (searched recursively).")],
    json_out: JsonFlag = False,
) -> None:
    """Run every DMN TCK test folder under DIR; exit 0 when all pass, 1 when some fail."""
    try:
        report = run_tck(directory)
    except IsthmusError as exc:
        _fail(exc)
    if json_out:
        sys.stdout.write(json.dumps(_report_json(report), ensure_ascii=False, indent=1) + "\n")
    else:
        _print_table(report)
    sys.stdout.write(f"{report.passed} passed, {report.failed} failed\n")
    _exit(0 if report.failed == 0 else 1)


def _report_json(report: TckReport) -> list[dict[str, Any]]:
    return [
        {
            "folder": r.folder,
            "file": r.test_file,
            "case": r.case_id,
            "result": r.result_node,
            "passed": r.passed,
            "reason": r.reason,
        }
        for r in report.results
    ]


def _print_table(report: TckReport) -> None:
    table = Table("folder", "case", "result node", "outcome", "reason")
    for r in report.results:
        table.add_row(r.folder, r.case_id, r.result_node, "pass" if r.passed else "FAIL", r.reason[:120])
    Console(highlight=False, width=200).print(table)
