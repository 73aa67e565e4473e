"""``isthmus bpmn`` (check, export, versions, diff, list) and ``isthmus deploy``: BPMN process models.

Thin on purpose: parsing and validation live in :mod:`isthmus.models`, deployed versions in
:class:`~isthmus.services.models.ModelService`. Exit codes: 0 ok; 1 the model has problems (one
line per problem, ``FILE:LINE: ELEMENT_ID: message``); 2 unreadable input or a bad argument.
``check`` and ``export FILE`` need no database; the rest need a migrated one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import emit_json
from isthmus.errors import InvalidInput, IsthmusError, Location
from isthmus.models import InvalidModel, ModelProblem, errors_of, parse_bpmn, validate

bpmn_app = typer.Typer(
    help="BPMN process models: check, export, list versions, diff two versions.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_REFERENCE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)(?:[:@]v?(?P<version>\d+))?$")


def _exit(code: int) -> NoReturn:
    # SystemExit, not typer.Exit: it reaches the shell even when click runs outside standalone mode.
    sys.stdout.flush()
    sys.exit(code)


def _fail(error: IsthmusError) -> NoReturn:
    sys.stderr.write(f"error: {error.message}\n")
    _exit(2)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "cannot read the file: {reason}",
            location=Location(file=str(path)),
            reason=exc.strerror or str(exc),
        ) from None


def _print_problems(file: str, problems: list[ModelProblem], *, stream: str = "stdout") -> None:
    out = sys.stdout if stream == "stdout" else sys.stderr
    for problem in problems:
        out.write(problem.describe(file) + "\n")


@bpmn_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The .bpmn file to check.")],
    json_out: JsonFlag = False,
) -> None:
    """Validate a BPMN file: exit 0 valid, 1 invalid (one line per problem), 2 unreadable."""
    try:
        model = parse_bpmn(_read(file), source=str(file))
    except IsthmusError as exc:
        _fail(exc)
    problems = validate(model)
    errors = errors_of(problems)
    if json_out:
        emit_json({"file": str(file), "valid": not errors, "problems": [p.as_dict() for p in problems]})
    else:
        _print_problems(str(file), problems)
        processes = ", ".join(
            f"{p.id}{'' if p.is_executable else ' (not executable)'}" for p in model.processes
        )
        verdict = f"{len(errors)} error(s)" if errors else "valid"
        sys.stderr.write(f"{file}: {verdict}; processes: {processes or 'none'}\n")
    _exit(1 if errors else 0)


@bpmn_app.command("export")
def export(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(help="A .bpmn file, or a deployed process: KEY (latest), KEY:VERSION or KEY@VERSION."),
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Where to write (default: stdout).")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", help="Version of a deployed KEY.")] = None,
) -> None:
    """Write a model back out, losslessly: same elements, ids, attributes, extensions and diagram."""
    path = Path(source)
    if path.exists() or not _REFERENCE.match(source):
        try:
            data = parse_bpmn(_read(path), source=source).to_xml()
        except IsthmusError as exc:
            _fail(exc)
    else:
        data = _deployed_content(ctx, source, version)
    if output is None:
        sys.stdout.buffer.write(data)
        _exit(0)
    try:
        output.write_bytes(data)
    except OSError as exc:
        _fail(
            InvalidInput(
                "cannot write the file: {reason}", location=Location(file=str(output)), reason=str(exc)
            )
        )
    sys.stderr.write(f"wrote {output} ({len(data)} bytes)\n")


def _deployed_content(ctx: typer.Context, reference: str, version: int | None) -> bytes:
    found = _REFERENCE.match(reference)
    assert found is not None
    wanted = version if version is not None else (int(found["version"]) if found["version"] else None)
    s = state(ctx)
    return s.container().models.get(s.principal(), found["key"], wanted).content


def deploy(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="The .bpmn file: each executable process becomes a new version.")
    ],
    json_out: JsonFlag = False,
) -> None:
    """Deploy a BPMN file; prints each process key and version (JSON: key, version, hash)."""
    s = state(ctx)
    data = _read(file)
    try:
        deployment = s.container().models.deploy(s.principal(), data, file.name)
    except InvalidModel as exc:
        _print_problems(str(file), exc.problems, stream="stderr")
        sys.stderr.write(f"error: {file}: not deployed, {len(errors_of(exc.problems))} error(s)\n")
        _exit(1)
    if json_out:
        emit_json(deployment.as_dict())
        return
    for process in deployment.processes:
        sys.stdout.write(f"{process.key} version {process.version}\n")
    _print_problems(str(file), list(deployment.warnings), stream="stderr")


bpmn_app.command("deploy")(deploy)


@bpmn_app.command("list")
def list_models(
    ctx: typer.Context,
    drafts: Annotated[bool, typer.Option("--drafts", help="Include drafts.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """The latest version of every process definition."""
    s = state(ctx)
    found = s.container().models.list(s.principal(), include_drafts=drafts)
    if json_out:
        emit_json([p.summary() for p in found])
        return
    table = Table("key", "version", "name", "draft", "deployed at (UTC)", "by")
    for p in found:
        table.add_row(
            p.key,
            str(p.version),
            p.name,
            "yes" if p.draft else "",
            p.deployed_at.strftime("%Y-%m-%d %H:%M"),
            p.deployed_by,
        )
    Console(highlight=False, width=200).print(table)


@bpmn_app.command("versions")
def versions(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="Process key.")], json_out: JsonFlag = False
) -> None:
    """Every version of a process (drafts included), oldest first."""
    s = state(ctx)
    found = s.container().models.versions(s.principal(), key)
    if json_out:
        emit_json([p.summary() for p in found])
        return
    table = Table("version", "draft", "hash", "file", "deployed at (UTC)", "by")
    for p in found:
        table.add_row(
            str(p.version),
            "yes" if p.draft else "",
            p.content_hash[:12],
            p.filename,
            p.deployed_at.strftime("%Y-%m-%d %H:%M"),
            p.deployed_by,
        )
    Console(highlight=False, width=200).print(table)


@bpmn_app.command("diff")
def diff(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Process key.")],
    v1: Annotated[int, typer.Argument(help="The older version.")],
    v2: Annotated[int, typer.Argument(help="The newer version.")],
    json_out: JsonFlag = False,
) -> None:
    """Nodes and flows added, removed and changed from V1 to V2."""
    s = state(ctx)
    found = s.container().models.diff(s.principal(), key, v1, v2)
    if json_out:
        emit_json({"key": key, "from": v1, "to": v2, **found.as_dict()})
        return
    out = sys.stdout
    if found.is_empty:
        out.write(f"{key}: version {v1} and {v2} have the same nodes and flows\n")
    for what, part in (("node", found.nodes), ("flow", found.flows)):
        for item in part.added:
            out.write(f"+ {what} {item.id} {item.name!r} ({item.kind})\n")
        for item in part.removed:
            out.write(f"- {what} {item.id} {item.name!r} ({item.kind})\n")
        for change in part.changed:
            fields = "; ".join(f"{k}: {b!r} → {a!r}" for k, (b, a) in change.fields.items())
            out.write(f"~ {what} {change.id} {change.name!r}: {fields}\n")


def register(app: typer.Typer) -> None:
    """Add the top-level ``isthmus deploy`` (the ``bpmn`` sub-app is added by the caller)."""
    app.command("deploy")(deploy)
