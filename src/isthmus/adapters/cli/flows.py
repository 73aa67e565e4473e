"""``isthmus flow`` (validate, deploy, list, run, show) and ``isthmus dlq`` (list, replay, discard)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json, err_console
from isthmus.adapters.connectors.sources import pull
from isthmus.adapters.worker.alongside import running_alongside
from isthmus.errors import InvalidInput, IsthmusError, Location
from isthmus.integration import COLUMNS, MessageState, table2_workbook
from isthmus.services.integration import AcceptReport

flow_app = typer.Typer(help="Integration flows: the guide's table 2, executable.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: messages that could not be delivered.", no_args_is_help=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput("cannot read {path}: {reason}", path=str(path), reason=exc.strerror) from exc


@flow_app.command("validate")
def validate(
    ctx: typer.Context, file: Path, json_out: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Check a flow YAML; one line per problem (with line and field), exit 1 when there is any."""
    try:
        flow = state(ctx).container(check_schema=False).flows.validate(_read(file), str(file))
    except IsthmusError as error:
        problems = error.details or [error]
        if json_out:
            emit_json({"valid": False, "errors": [p.as_dict() for p in problems]})
        for problem in problems:
            err_console.print(problem.message, markup=False, soft_wrap=True)
        raise typer.Exit(1) from error
    if json_out:
        emit_json({"valid": True, "flow": flow.id})
    else:
        err_console.print(f"{file}: valid flow {flow.id}")


@flow_app.command("deploy")
def deploy(ctx: typer.Context, file: Path, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Store a flow YAML as the next version of its flow (the same text again changes nothing)."""
    s = state(ctx)
    stored = s.container().flows.deploy(s.principal(), _read(file), str(file))
    if json_out:
        emit_json({"flow": stored.flow_id, "version": stored.version})
    else:
        console.print(f"deployed {stored.flow_id} version {stored.version}")


@flow_app.command("list")
def list_flows(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Export table 2 to this Excel file.")] = None,
) -> None:
    """Table 2 (系统对接需求明细表): one row per deployed flow, computed from its definition."""
    s = state(ctx)
    table2 = s.container().flows.table2(s.principal())
    rows = [r.as_dict() for r in table2]
    if xlsx is not None:
        xlsx.write_bytes(table2_workbook(table2))
        err_console.print(f"wrote {len(rows)} flow(s) to {xlsx}")
    if json_out:
        emit_json(rows)
        return
    table = Table("flow", *COLUMNS)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)


def _records(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for number, line in enumerate(_read(path).splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    "not JSON: {error}", location=Location(file=str(path), line=number), error=exc.msg
                ) from exc
    return records


@flow_app.command("run")
def run_flow(
    ctx: typer.Context,
    flow_id: str,
    input_: Annotated[
        Path | None, typer.Option("--input", help="JSON lines to accept (webhook flows).")
    ] = None,
    deliver: Annotated[bool, typer.Option(help="Deliver what is due now before returning.")] = True,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Pull what is new at the flow's source (or accept --input) into the outbox, then deliver."""
    s = state(ctx)
    container = s.container()
    principal = s.principal()
    result: dict[str, Any]
    if input_ is not None:
        report: AcceptReport = container.flows.accept(principal, flow_id, _records(input_), first_row=1)
        result = report.as_dict()
    else:
        # chunks go to the target while the next ones are read (then the rest below)
        with running_alongside(container.job_runner()) if deliver else nullcontext():
            result = pull(
                container.flows,
                principal,
                flow_id,
                cursor_dir=container.settings.data_dir / "flow-cursors",
                registry=container.systems.options_for,
            ).as_dict()
    if deliver:
        container.job_runner().run_until_idle()
    result["metrics"] = container.flows.metrics(principal, flow_id).as_dict()
    if json_out:
        emit_json(result)
        return
    console.print(
        f"{flow_id}: accepted {result['accepted']}, duplicates {result['duplicates']}, rejected {result['rejected']}; "
        f"delivered {result['metrics']['delivered']}, backlog {result['metrics']['backlog']}, "
        f"failures {result['metrics']['failures']}"
    )
    for error in result["errors"][:20]:
        err_console.print(f"  row {error['row']}: {error['error']}", markup=False)


@flow_app.command("schedule")
def schedule(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The next run of every flow with a cron or poll trigger (the worker runs them)."""
    s = state(ctx)
    container = s.container()
    upcoming = container.schedule.upcoming(s.principal()) if container.schedule else []
    if json_out:
        emit_json([u.as_dict() for u in upcoming])
        return
    table = Table("flow", "version", "next run (UTC)", "trigger")
    for u in upcoming:
        table.add_row(u.flow_id, str(u.version), u.due.isoformat(), u.trigger)
    console.print(table)


@flow_app.command("show")
def show(ctx: typer.Context, flow_id: str) -> None:
    """The flow's metrics: messages, failures, latency percentiles, last run, backlog (JSON)."""
    s = state(ctx)
    emit_json(s.container().flows.metrics(s.principal(), flow_id).as_dict())


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    flow: Annotated[str | None, typer.Option("--flow")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dead-lettered messages, oldest first, payloads masked."""
    s = state(ctx)
    found = s.container().flows.messages(
        s.principal(), flow_id=flow, states=(MessageState.DEAD_LETTERED,), limit=limit
    )
    if json_out:
        emit_json([m.as_dict() for m in found])
        return
    table = Table("id", "flow", "key", "row", "attempts", "error")
    for m in found:
        table.add_row(
            str(m.id),
            m.flow_id,
            m.idempotency_key,
            str(m.row_number or ""),
            str(m.attempts),
            (m.last_error or "")[:80],
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument()] = None,
    flow: Annotated[str | None, typer.Option("--flow", help="Replay every dead letter of this flow.")] = None,
    deliver: Annotated[bool, typer.Option(help="Deliver now before returning.")] = True,
) -> None:
    """Send dead-lettered messages again (after the cause is fixed); audited."""
    s = state(ctx)
    container = s.container()
    chosen = list(ids or [])
    if flow is not None:
        dead = container.flows.messages(
            s.principal(), flow_id=flow, states=(MessageState.DEAD_LETTERED,), limit=1_000_000
        )
        chosen += [m.id for m in dead]
    if not chosen:
        raise InvalidInput("name message ids or --flow")
    replayed = container.flows.replay(s.principal(), chosen)
    if deliver:
        container.job_runner().run_until_idle()
    console.print(f"replayed {len(replayed)} message(s)")


@dlq_app.command("discard")
def dlq_discard(
    ctx: typer.Context,
    ids: list[int],
    reason: Annotated[str, typer.Option("--reason", help="Why; kept in the audit trail.")],
) -> None:
    """Give up dead-lettered messages for good; audited with the reason."""
    s = state(ctx)
    count = s.container().flows.discard(s.principal(), ids, reason)
    console.print(f"discarded {count} message(s)")


@flow_app.command("test")
def run_flow_tests(
    ctx: typer.Context,
    flow_id: str,
    sample: Annotated[Path, typer.Option("--sample", help="One valid source record as a JSON object.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the flow against its test target with injected faults; the result becomes its 测试状态."""
    from isthmus.adapters.connectors.flowtest import run_flow_test

    s = state(ctx)
    container = s.container()
    deployed, _ = container.flows.get(s.principal(), flow_id)
    record = json.loads(_read(sample))
    if not isinstance(record, dict):
        raise InvalidInput("{path}: expected one JSON object", path=str(sample))
    results = run_flow_test(deployed.text, record)
    passed = all(r.passed for r in results)
    container.flows.record_test(s.principal(), flow_id, passed)
    if json_out:
        emit_json({"flow": flow_id, "passed": passed, "scenarios": [r.as_dict() for r in results]})
    else:
        table = Table("scenario", "result", "what happened")
        for r in results:
            table.add_row(r.name, "passed" if r.passed else "FAILED", r.detail)
        console.print(table)
    if not passed:
        raise typer.Exit(1)
