"""``isthmus dmn``: evaluate a DMN decision, run a DMN TCK folder, deploy models and list them.

Thin on purpose: parsing, evaluation and the TCK live in :mod:`isthmus.decisions`, deployed models
in :class:`~isthmus.services.decisions.DecisionService`. Errors from the domain (``IsthmusError``)
print one line ``error: <message>`` on stderr and exit 2. ``eval`` and ``tck`` work on files and
need no database; ``deploy`` and ``list`` need a migrated one (``isthmus db upgrade``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import emit_json
from isthmus.decisions import TckReport, evaluate, load_dmn_set, run_tck, to_json_value
from isthmus.errors import InvalidInput, IsthmusError, Location

app = typer.Typer(
    help="DMN decisions: evaluate models, run the DMN TCK, deploy models and list them.", no_args_is_help=True
)

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


@app.command("deploy")
def deploy(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(help="The .dmn file to deploy as the next version of its key.")],
    json_out: JsonFlag = False,
) -> None:
    """Deploy a DMN model; the same content as the latest version deploys nothing new."""
    s = state(ctx)
    try:
        data = model.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "cannot read the file: {reason}",
            location=Location(file=str(model)),
            reason=exc.strerror or str(exc),
        ) from None
    deployed = s.container().decisions.deploy(s.principal(), data, model.name)
    if json_out:
        emit_json(deployed.summary())
        return
    names = ", ".join(d.name for d in deployed.decisions)
    Console(highlight=False).print(f"{deployed.key} version {deployed.version} ({names})", markup=False)


@app.command("list")
def list_models(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """List deployed models (the latest version of each)."""
    s = state(ctx)
    models = s.container().decisions.list(s.principal())
    if json_out:
        emit_json([m.summary() for m in models])
        return
    table = Table("key", "version", "name", "decisions", "deployed at (UTC)", "by")
    for m in models:
        deployed_at = m.deployed_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(
            m.key, str(m.version), m.name, ", ".join(d.name for d in m.decisions), deployed_at, m.deployed_by
        )
    Console(highlight=False, width=200).print(table)
