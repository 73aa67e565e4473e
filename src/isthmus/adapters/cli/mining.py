"""``isthmus log import`` and ``isthmus mine …``: event logs in, analyses out.

``LOG`` is a log id from ``log import`` or a file path, imported on the fly with the XES column
defaults (``case:concept:name``, ``concept:name``, ``time:timestamp``). Every analysis prints JSON
with ``--json`` (shapes in docs/mining.md); a bad file or option exits 2 with one line on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from isthmus import mining
from isthmus.adapters.cli.context import CliState, state
from isthmus.adapters.cli.output import emit_json
from isthmus.catalog import NodeSla, parse_sla_lines
from isthmus.errors import InvalidInput, Location
from isthmus.mining import ColumnMapping
from isthmus.mining._heatmap import HeatMetric

log_app = typer.Typer(help="Event logs: import CSV, XES, Parquet or OCEL 2.0 files.", no_args_is_help=True)
mine_app = typer.Typer(help="Process mining on an imported log (or a file).", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LogArg = Annotated[str, typer.Argument(help="A log id, or a file to import on the fly.")]
LARGE_FILE = 20 * 1024 * 1024


def _import(s: CliState, path: Path, mapping: ColumnMapping) -> str:
    if not path.is_file():
        raise InvalidInput("no such file", location=Location(file=str(path)))
    service = s.container().mining
    if path.stat().st_size < LARGE_FILE:
        return service.import_file(s.principal(), path, mapping=mapping).id
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(f"importing {path.name}", total=None)

        def tick(events: int) -> None:
            bar.update(task, description=f"importing {path.name}: {events:,} events")

        return service.import_file(s.principal(), path, mapping=mapping, progress=tick).id


@log_app.command("import")
def import_log(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, XES, XES.gz, Parquet or OCEL 2.0 (.jsonocel/.xmlocel).")],
    case: Annotated[str | None, typer.Option("--case", help="Case id column.")] = None,
    activity: Annotated[str | None, typer.Option("--activity", help="Activity column.")] = None,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="(Completion) timestamp column.")
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="Start timestamp column.")] = None,
    resource: Annotated[str | None, typer.Option("--resource", help="Resource column.")] = None,
    system: Annotated[str | None, typer.Option("--system", help="Source system column.")] = None,
    lifecycle: Annotated[str | None, typer.Option("--lifecycle", help="Lifecycle column.")] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="utf-8, utf-8-sig, gb18030, gbk …")
    ] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (sniffed).")] = None,
    time_format: Annotated[str | None, typer.Option("--time-format", help="strftime pattern.")] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="Zone of times without offset.")] = "UTC",
    object_type: Annotated[str | None, typer.Option("--object-type", help="OCEL: flatten on it.")] = None,
) -> None:
    """Import an event log and print its id."""
    mapping = ColumnMapping(
        case=case,
        activity=activity,
        timestamp=timestamp,
        start=start,
        resource=resource,
        system=system,
        lifecycle=lifecycle,
        encoding=encoding,
        delimiter=delimiter,
        timestamp_format=time_format,
        timezone=timezone,
        object_type=object_type,
    )
    typer.echo(_import(state(ctx), file, mapping))


@log_app.command("import-history")
def import_history(ctx: typer.Context) -> None:
    """Register the engine's own history (every process instance it ran) as a log; print its id."""
    s = state(ctx)
    typer.echo(s.container().mining.import_engine_history(s.principal()).id)


@log_app.command("list")
def list_logs(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """List imported logs with their statistics."""
    s = state(ctx)
    logs = s.container().mining.list(s.principal())
    if json_out:
        emit_json([log.summary() for log in logs])
        return
    for log in logs:
        st = log.statistics
        typer.echo(f"{log.id}  {log.name}  {st.cases} cases, {st.events} events, {st.activities} activities")


@log_app.command("link")
def link(
    ctx: typer.Context,
    log: Annotated[str, typer.Argument(help="A log id.")],
    process_id: Annotated[str, typer.Argument(help="The catalog process (table 1 row) it records.")],
    key_node_share: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Key nodes: activities with at least this share of events."),
    ] = 0.0,
    json_out: JsonFlag = False,
) -> None:
    """Link a log to a catalog process: fills its average hours and key nodes, and makes the
    process's key-node SLAs the ones ``mine sla`` checks."""
    s = state(ctx)
    _emit(s.container().mining.link(s.principal(), log, process_id, key_node_share=key_node_share), json_out)


def _resolve(s: CliState, log: str) -> str:
    path = Path(log)
    if path.suffix and path.is_file():
        return _import(s, path, ColumnMapping())
    return log


def _emit(data: Any, json_out: bool) -> None:
    if json_out:
        emit_json(data)
    else:
        Console(highlight=False).print_json(data=data)


def _analysis(kind: str) -> Any:
    def command(ctx: typer.Context, log: LogArg, json_out: JsonFlag = False) -> None:
        s = state(ctx)
        _emit(s.container().mining.analyse(s.principal(), _resolve(s, log), kind), json_out)

    command.__doc__ = {
        "dfg": "Directly-follows graph: edges with counts, start and end activities.",
        "performance": "Directly-follows graph with transition durations (mean, median, min, max, sum, stdev).",
        "variants": "Variants (activity sequences) by count, descending.",
        "waiting": "Service and waiting time per activity and the waiting share per case.",
        "bottlenecks": "Activities ranked by total and p90 waiting before them.",
    }[kind]
    return command


for _kind in ("dfg", "performance", "variants", "waiting", "bottlenecks"):
    mine_app.command(_kind)(_analysis(_kind))


@mine_app.command("conformance")
def conformance(
    ctx: typer.Context,
    log: LogArg,
    model: Annotated[Path, typer.Option("--model", help="The BPMN 2.0 file to replay the log on.")],
    json_out: JsonFlag = False,
) -> None:
    """Token-based replay fitness of the log on a BPMN model, per case and overall."""
    s = state(ctx)
    data = _read_model(model)
    _emit(s.container().mining.conformance(s.principal(), _resolve(s, log), data, model.name), json_out)


@mine_app.command("sla")
def sla(
    ctx: typer.Context,
    log: LogArg,
    given: Annotated[
        list[str] | None, typer.Option("--sla", help="An 'activity=PT1H' SLA (repeat); overrides the others.")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="Take the isthmus:sla of this BPMN file's tasks.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """SLA breaches per activity by lead time (waiting + service). SLAs: the linked catalog
    process's key-node SLAs, then the model's, then --sla; each row names its source."""
    s = state(ctx)
    log_id = _resolve(s, log)
    model_slas = mining.slas_from_bpmn(_read_model(model), model.name) if model else None
    slas = {n.node: n.duration for item in given or [] for n in _entry(item)}
    rows = s.container().mining.sla(s.principal(), log_id, slas, model=model_slas)
    _emit({"activities": rows}, json_out)


@mine_app.command("heatmap")
def heatmap(
    ctx: typer.Context,
    log: LogArg,
    model: Annotated[Path, typer.Option("--model", help="The BPMN 2.0 file whose nodes to colour.")],
    metric: Annotated[HeatMetric, typer.Option(help="Colour by the mean or the p90 wait.")] = HeatMetric.MEAN,
    json_out: JsonFlag = False,
) -> None:
    """The model's nodes with the waiting and service time of the activity each maps to (by name,
    then id), a colour level 1–5 and SLA breaches — the data of the log page's heat map."""
    s = state(ctx)
    found = s.container().mining.heatmap(
        s.principal(), _resolve(s, log), _read_model(model), model.name, metric=metric
    )
    _emit(found, json_out)


def _entry(text: str) -> tuple[NodeSla, ...]:
    try:
        found = parse_sla_lines(text)
    except InvalidInput:
        found = ()
    if len(found) != 1:
        raise InvalidInput(
            "--sla: expected activity=ISO 8601 duration (e.g. Check=PT1H), got {value!r}", value=text
        )
    return found


def _read_model(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "cannot read the model: {reason}",
            location=Location(file=str(path)),
            reason=exc.strerror or str(exc),
        ) from None


@mine_app.command("export")
def export(
    ctx: typer.Context,
    log: LogArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the .bpmn file.")],
    coverage: Annotated[float, typer.Option("--coverage", help="Share of transitions kept, 0–1.")] = 0.8,
) -> None:
    """Export the discovered (as-is) process as a laid-out BPMN 2.0 file."""
    s = state(ctx)
    output.write_text(
        s.container().mining.as_is_bpmn(s.principal(), _resolve(s, log), coverage), encoding="utf-8"
    )
    typer.echo(str(output))
