"""``isthmus data profile|clean|dedupe``: data quality from the command line.

Sources are files (CSV in UTF-8/UTF-16/GB18030, Excel, Parquet) or ``URL#table``; see
``isthmus.adapters.tabular``. Progress goes to stderr, results to stdout (``--json``) or a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from isthmus.adapters.cli.context import state
from isthmus.adapters.cli.output import console, emit_json, err_console
from isthmus.adapters.tabular import read_source, write_target
from isthmus.errors import InvalidInput, Location
from isthmus.quality import (
    Decision,
    PairDecision,
    RuleFile,
    RuleKind,
    Strategy,
    Survivorship,
    apply_rules,
    config_from_mapping,
    dedupe,
    golden_records,
    parse_rules,
    profile,
    record_ids,
)

app = typer.Typer(help="Data quality: profile, cleanse and de-duplicate tables.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RulesOption = Annotated[Path | None, typer.Option("--rules", help="A rule file (YAML); see docs/quality.md.")]
Source = Annotated[str, typer.Argument(help="A file (.csv, .xlsx, .parquet) or URL#table.")]


def _rules(path: Path | None) -> RuleFile:
    if path is None:
        return parse_rules("")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(
            "cannot read the rule file: {reason}",
            location=Location(file=str(path)),
            reason=type(error).__name__,
        ) from error
    return parse_rules(text, file=str(path))


@contextmanager
def _progress(label: str) -> Iterator[Progress]:
    """A progress bar on stderr (hidden when stderr is not a terminal)."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=err_console, transient=True, disable=not err_console.is_terminal,
    ) as bar:  # fmt: skip
        yield bar


def _read(source: str, bar: Progress) -> pl.DataFrame:
    task = bar.add_task(f"reading {source}", total=None)
    frame = read_source(source)
    bar.update(task, total=1, completed=1)
    return frame


@app.command("profile")
def profile_command(
    source: Source,
    json_out: JsonFlag = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    rules: RulesOption = None,
) -> None:
    """Profile every column: type, null rate, distinct values, top values, shapes, rule violations."""
    validations = [r for r in _rules(rules).rules if r.kind is RuleKind.VALIDATE]
    with _progress("profile") as bar:
        frame = _read(source, bar)
        bar.add_task("profiling", total=None)
        report = profile(frame, source=source, rules=validations)
    if html is not None:
        html.write_text(report.to_html(), encoding="utf-8")
    if json_out:
        emit_json(report.as_dict())
        return
    if html is not None:
        console.print(f"wrote {html}")
        return
    table = Table(title=f"{source}: {report.rows} rows, data error rate {report.error_rate:.2%}")
    for header in ("column", "type", "null rate", "distinct", "top values", "patterns"):
        table.add_column(header)
    for c in report.columns:
        table.add_row(
            c.name, c.type, f"{c.null_rate:.1%}", str(c.distinct),
            ", ".join(f"{v} ({n})" for v, n in c.top_values[:3]),
            ", ".join(f"{p} ({n})" for p, n in c.patterns[:3]),
        )  # fmt: skip
    console.print(table)


@app.command("clean")
def clean_command(
    source: Source,
    rules: Annotated[Path, typer.Option("--rules", help="The rule file (YAML).")],
    out: Annotated[
        str, typer.Option("-o", "--out", help="Where to write the cleansed data (file or URL#table).")
    ],
    json_out: JsonFlag = False,
) -> None:
    """Apply cleansing rules; report per rule and column what changed (counts and samples)."""
    rule_file = _rules(rules)
    with _progress("clean") as bar:
        frame = _read(source, bar)
        task = bar.add_task("cleansing", total=len(rule_file.rules))
        result = apply_rules(frame, rule_file.rules)
        bar.update(task, completed=len(rule_file.rules))
        write_target(result.frame, out)
    if json_out:
        emit_json(result.as_dict())
        return
    table = Table(title=f"{source} → {out}: {result.frame.height} rows")
    for header in ("rule", "column", "changed / violations", "nulls before → after", "sample"):
        table.add_column(header)
    for r in result.reports:
        sample = r.samples[0] if r.samples else {}
        table.add_row(r.rule, r.column, str(r.changed), f"{r.nulls_before} → {r.nulls_after}", str(sample))
    console.print(table)


@app.command("dedupe")
def dedupe_command(
    ctx: typer.Context,
    source: Source,
    rules: RulesOption = None,
    json_out: JsonFlag = False,
    golden: Annotated[str | None, typer.Option("--golden", help="Write golden records here.")] = None,
    detail: Annotated[bool, typer.Option("--detail", help="Add scores and counts to the JSON.")] = False,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", help="Apply the review decisions stored for this dataset (Isthmus database)."
        ),
    ] = None,
) -> None:
    """Find records of one entity: prints {"clusters": [[row, …], …]} with 0-based data-row indices."""
    rule_file = _rules(rules)
    config = config_from_mapping(rule_file.dedupe, file=rule_file.file, line=rule_file.dedupe_line)
    decisions: list[PairDecision] = []
    if dataset is not None:
        cli = state(ctx)
        stored = cli.container().quality.decisions(cli.principal(), dataset)
        decisions = [PairDecision(d["first"], d["second"], d["decision"]) for d in stored]
    with _progress("dedupe") as bar:
        frame = _read(source, bar)
        task = bar.add_task("de-duplicating", total=4)
        result = dedupe(frame, config, file=source, decisions=decisions, progress=lambda stage, done, total: bar.update(
            task, completed=done, description=stage))  # fmt: skip
    if golden is not None:
        write_target(golden_records(frame, result.clusters, _survivorship(rule_file)), golden)
    if json_out:
        body = result.as_dict(detail=detail)
        if detail:
            ids = record_ids(frame)
            body["record_ids"] = [[ids[r] for r in c.rows] for c in result.clusters]
        emit_json(body)
        return
    console.print(f"{len(result.clusters)} clusters, {sum(len(c.rows) for c in result.clusters)} records")
    for c in result.clusters[:50]:
        console.print(f"  {list(c.rows)}  score {c.score:.3f}")


def _survivorship(rule_file: RuleFile) -> Survivorship:
    section = rule_file.dedupe.get("survivorship") or {}
    try:
        strategy = Strategy(section.get("strategy", Strategy.MOST_COMPLETE.value))
    except ValueError:
        raise InvalidInput(
            "unknown survivorship strategy {value!r}; allowed: {allowed}",
            location=Location(file=rule_file.file, line=rule_file.dedupe_line, field="survivorship"),
            value=str(section.get("strategy")), allowed=", ".join(s.value for s in Strategy),
        ) from None  # fmt: skip
    return Survivorship(
        strategy, section.get("order_by"), section.get("source"), tuple(section.get("priority") or ())
    )


@app.command("review")
def review_command(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset the records belong to.")],
    records: Annotated[list[str], typer.Argument(help="record_ids of one cluster (dedupe --json --detail).")],
    decision: Annotated[str, typer.Option("--decision", help="merge | apart")],
    json_out: JsonFlag = False,
) -> None:
    """Store a review decision (audited); `data dedupe --dataset` and the API and web apply it."""
    cli = state(ctx)
    pairs = cli.container().quality.decide(cli.principal(), dataset, records, Decision.parse(decision))
    if json_out:
        emit_json({"dataset": dataset, "decision": decision, "pairs": len(pairs)})
        return
    console.print(f"{decision}: {len(pairs)} pairs of {dataset}")
