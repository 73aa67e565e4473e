"""``isthmus catalog``: table 1 from the command line."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json
from isthmus.catalog import (
    PRIORITY_TEXT,
    NodeSla,
    Priority,
    PriorityScores,
    Process,
    ProcessId,
    ProcessQuery,
    SortField,
    parse_sla_lines,
)
from isthmus.errors import InvalidInput, Location

app = typer.Typer(help="The process catalog (the guide's table 1).", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
MAX_FILE_BYTES = 10 * 1024 * 1024


@app.command("list")
def list_processes(
    ctx: typer.Context,
    json_out: JsonFlag = False,
    search: Annotated[str, typer.Option(help="Text to find in id, name, owner, roles, pain points.")] = "",
    department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
    priority: Annotated[Priority | None, typer.Option(help="Only this priority.")] = None,
    sort: Annotated[SortField, typer.Option(help="Sort by this column.")] = SortField.ID,
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
) -> None:
    """List processes with every column of table 1."""
    s = state(ctx)
    query = ProcessQuery(
        search=search, department=department, priority=priority, sort=sort, descending=desc, limit=limit
    )
    items, total = s.container().catalog.query(s.principal(), query)
    if json_out:
        emit_json([_public(p) for p in items])
        return
    table = Table(title=f"流程现状分析表 / Process catalog ({len(items)} of {total})", show_lines=True)
    for header in (
        "流程编号 id",
        "流程名称 name",
        "所属部门",
        "系统支持",
        "负责人",
        "参与角色",
        "节点",
        "时长(h)",
        "主要痛点",
        "优先级",
    ):
        table.add_column(header)
    for p in items:
        table.add_row(
            p.id,
            p.name,
            p.department,
            p.system_support,
            p.owner,
            "、".join(p.roles),
            str(p.key_nodes),
            str(p.avg_hours),
            "\n".join(f"{i}. {x}" for i, x in enumerate(p.pain_points, 1)),
            PRIORITY_TEXT[p.priority] + ("" if p.priority_manual else " (计算)"),
        )
    console.print(table)


def _public(process: Process) -> dict[str, object]:
    """The contract of ``catalog list --json``: the ten English column names (plus extras)."""
    return process.as_record()


@app.command("show")
def show(ctx: typer.Context, process_id: str, json_out: JsonFlag = False) -> None:
    """Show one process."""
    s = state(ctx)
    process = s.container().catalog.get(s.principal(), process_id)
    if json_out:
        emit_json(_public(process))
        return
    for key, value in _public(process).items():
        console.print(f"[bold]{key}[/bold]: {value}")


def _hours(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput("--avg-hours: expected a number of hours, got {value!r}", value=text) from None
    return value


def _scores(value: int | None, pain: int | None, ease: int | None) -> PriorityScores | None:
    given = [x for x in (value, pain, ease) if x is not None]
    if not given:
        return None
    if len(given) != 3:
        raise InvalidInput("--value-score, --pain-score and --ease-score go together: give all three or none")
    value, pain, ease = given
    return PriorityScores(value=value, pain=pain, ease=ease)


Score = Annotated[int | None, typer.Option(min=1, max=5)]


@app.command("add")
def add(
    ctx: typer.Context,
    process_id: Annotated[str, typer.Argument(help="流程编号, e.g. SAL-ORD-001")],
    name: Annotated[str, typer.Option(help="流程名称")],
    department: Annotated[str, typer.Option(help="所属部门")] = "",
    system_support: Annotated[str, typer.Option(help="当前系统支持情况")] = "",
    owner: Annotated[str, typer.Option(help="流程负责人")] = "",
    role: Annotated[list[str] | None, typer.Option("--role", help="参与角色 (repeat)")] = None,
    key_nodes: Annotated[int, typer.Option(min=0, max=10_000, help="关键节点数量")] = 0,
    avg_hours: Annotated[str, typer.Option(help="平均处理时长(小时)")] = "0",
    pain: Annotated[list[str] | None, typer.Option("--pain", help="主要痛点问题 (repeat)")] = None,
    priority: Annotated[Priority | None, typer.Option(help="优化优先级, set by hand")] = None,
    value_score: Score = None,
    pain_score: Score = None,
    ease_score: Score = None,
    json_out: JsonFlag = False,
) -> None:
    """Add a process. Give --priority to set it by hand, or the three scores to compute it."""
    scores = _scores(value_score, pain_score, ease_score)
    if priority is None and scores is None:
        raise InvalidInput("give --priority high|medium|low, or --value-score, --pain-score and --ease-score")
    process = Process(
        id=ProcessId(process_id),
        name=name,
        department=department,
        system_support=system_support,
        owner=owner,
        roles=tuple(role or ()),
        key_nodes=key_nodes,
        avg_hours=_hours(avg_hours) or Decimal(0),
        pain_points=tuple(pain or ()),
        priority=priority or Priority.MEDIUM,
        priority_manual=priority is not None,
        scores=scores,
    )
    s = state(ctx)
    stored = s.container().catalog.create(s.principal(), process)
    if json_out:
        emit_json(_public(stored))
    else:
        console.print(f"added {stored.id} (priority {stored.priority.value})")


@app.command("edit")
def edit(
    ctx: typer.Context,
    process_id: str,
    name: Annotated[str | None, typer.Option()] = None,
    department: Annotated[str | None, typer.Option()] = None,
    system_support: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    role: Annotated[list[str] | None, typer.Option("--role", help="Replace the roles (repeat).")] = None,
    key_nodes: Annotated[int | None, typer.Option(min=0, max=10_000)] = None,
    avg_hours: Annotated[str | None, typer.Option()] = None,
    pain: Annotated[
        list[str] | None, typer.Option("--pain", help="Replace the pain points (repeat).")
    ] = None,
    priority: Annotated[Priority | None, typer.Option(help="Set by hand (marks it manual).")] = None,
    computed: Annotated[
        bool, typer.Option("--computed", help="Compute the priority from the scores.")
    ] = False,
    value_score: Score = None,
    pain_score: Score = None,
    ease_score: Score = None,
    json_out: JsonFlag = False,
) -> None:
    """Change some columns of a process; the others keep their values."""
    s = state(ctx)
    service, principal = s.container().catalog, s.principal()
    current = service.get(principal, process_id)
    changes: dict[str, object] = {
        k: v
        for k, v in {
            "name": name,
            "department": department,
            "system_support": system_support,
            "owner": owner,
            "key_nodes": key_nodes,
            "avg_hours": _hours(avg_hours),
        }.items()
        if v is not None
    }
    if role is not None:
        changes["roles"] = tuple(role)
    if pain is not None:
        changes["pain_points"] = tuple(pain)
    scores = _scores(value_score, pain_score, ease_score)
    if scores is not None:
        changes["scores"] = scores
    if priority is not None and computed:
        raise InvalidInput("--priority and --computed contradict each other: give one")
    if priority is not None:
        changes.update(priority=priority, priority_manual=True)
    elif computed:
        if (scores or current.scores) is None:
            raise InvalidInput(
                "--computed needs the three scores (--value-score, --pain-score, --ease-score)"
            )
        changes["priority_manual"] = False
    stored = service.update(principal, current.with_changes(**changes))
    if json_out:
        emit_json(_public(stored))
    else:
        console.print(f"saved {stored.id} (version {stored.version})")


@app.command("slas")
def slas(
    ctx: typer.Context,
    process_id: str,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Replace the list with these 'node=PT4H' entries (repeat, in order)."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every SLA of the process.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Show or replace the key-node SLAs of a process (ISO 8601 durations, e.g. 审核订单=PT4H)."""
    s = state(ctx)
    service, principal = s.container().catalog, s.principal()
    if set_ and clear:
        raise InvalidInput("--set and --clear contradict each other: give one")
    found: tuple[NodeSla, ...]
    if clear:
        found = service.set_slas(principal, process_id, [])
    elif set_:
        entries = [entry for item in set_ for entry in _sla_entry(item)]
        found = service.set_slas(principal, process_id, entries)
    else:
        found = service.slas(principal, process_id)
    if json_out:
        emit_json({"process_id": process_id, "slas": [sla.as_dict() for sla in found]})
        return
    for sla in found:
        console.print(f"{sla.node} = {sla.duration}")
    if not found:
        console.print(f"{process_id} has no key-node SLAs")


def _sla_entry(text: str) -> tuple[NodeSla, ...]:
    try:
        found = parse_sla_lines(text)
    except InvalidInput:
        found = ()
    if len(found) != 1:
        raise InvalidInput(
            "--set: expected node=ISO 8601 duration (e.g. 审核订单=PT4H), got {value!r}", value=text
        )
    return found


@app.command("delete")
def delete(ctx: typer.Context, process_id: str) -> None:
    """Delete a process (recorded in the audit trail with its last content)."""
    s = state(ctx)
    s.container().catalog.delete(s.principal(), process_id)
    console.print(f"deleted {process_id}")


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An .xlsx or .csv file with table 1's headers.")],
    json_out: JsonFlag = False,
) -> None:
    """Import table 1 rows: all or nothing. New ids are added, existing ids updated."""
    if not file.is_file():
        raise InvalidInput("no such file", location=Location(file=str(file)))
    if file.stat().st_size > MAX_FILE_BYTES:
        raise InvalidInput(
            "file is larger than {limit} MB",
            location=Location(file=str(file)),
            limit=MAX_FILE_BYTES // 1024 // 1024,
        )
    s = state(ctx)
    report = s.container().catalog.import_file(s.principal(), file.read_bytes(), file.name)
    if json_out:
        emit_json(report.as_dict())
        return
    console.print(
        f"imported {file.name}: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("-o", "--output", help="Target file (.xlsx or .csv).")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="xlsx or csv (default: from the file name).")
    ] = None,
    language: Annotated[str, typer.Option(help="Header language: zh_CN (the guide's) or en.")] = "zh_CN",
) -> None:
    """Export the catalog in the guide's layout."""
    chosen = fmt or output.suffix.lstrip(".").lower() or "xlsx"
    s = state(ctx)
    data = s.container().catalog.export(s.principal(), chosen, language)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(output)  # atomic: a crash never leaves half a workbook
    console.print(f"wrote {output}")
