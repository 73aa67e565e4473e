"""Profiling: what each column holds, how often it is empty, its shapes, and the data error rate."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from isthmus.quality._rules import ValidationRule, violations

TOP = 5


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """One column: inferred type, emptiness, distinctness, frequent values and frequent shapes."""

    name: str
    type: str
    count: int
    nulls: int
    null_rate: float
    distinct: int
    top_values: list[tuple[str, int]]
    patterns: list[tuple[str, int]]
    min_length: int | None
    max_length: int | None
    violations: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Profile:
    """A profile of a whole table; ``error_rate`` is the share of rows failing any validation rule."""

    source: str
    rows: int
    columns: list[ColumnProfile]
    rules: int
    rows_with_errors: int
    error_rate: float
    violations: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape documented in ``docs/quality.md``."""
        body = asdict(self)
        for column in body["columns"]:
            column["top_values"] = [{"value": v, "count": n} for v, n in column["top_values"]]
            column["patterns"] = [{"pattern": p, "count": n} for p, n in column["patterns"]]
        return body

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def to_html(self) -> str:
        """A self-contained report (no scripts, inline CSS) with a bar per column's null rate."""
        return _render_html(self)


_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_DATE = r"^\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?([ T]\d{1,2}:\d{2}(:\d{2})?)?$"


def _infer_type(values: pl.Series) -> str:
    present = values.drop_nulls()
    if present.len() == 0:
        return "empty"
    for kind, pattern in (("integer", r"^[+-]?\d+$"), ("number", _NUMBER), ("date", _DATE)):
        if bool(present.str.contains(pattern).all()):
            return kind
    return "text"


def pattern_expr(column: str) -> pl.Expr:
    """The vectorised twin of :func:`pattern_class` (digits → 9, letters → A, CJK → 汉)."""
    return (
        pl.col(column)
        .str.replace_all(r"[0-9]", "9")
        .str.replace_all(r"[A-Za-z]", "A")
        .str.replace_all(r"[\p{Han}]", "汉")
    )


def _top(series: pl.Series) -> list[tuple[str, int]]:
    counts = series.drop_nulls().value_counts(sort=True, name="n").head(TOP)
    return [(str(v), int(n)) for v, n in counts.iter_rows()]


def profile_column(frame: pl.DataFrame, name: str) -> ColumnProfile:
    """Profile one column of text values (empty strings count as nulls)."""
    values = frame.get_column(name).cast(pl.String)
    values = values.set(values == "", None) if values.len() else values
    count = values.len()
    nulls = values.null_count()
    lengths = values.drop_nulls().str.len_chars()
    shapes = frame.select(pattern_expr(name).alias(name)).get_column(name) if count else values
    return ColumnProfile(
        name=name,
        type=_infer_type(values),
        count=count,
        nulls=nulls,
        null_rate=round(nulls / count, 6) if count else 0.0,
        distinct=values.drop_nulls().n_unique(),
        top_values=_top(values),
        patterns=_top(shapes.filter(shapes != "")) if count else [],
        min_length=int(lengths.min()) if lengths.len() else None,  # type: ignore[arg-type]
        max_length=int(lengths.max()) if lengths.len() else None,  # type: ignore[arg-type]
    )


def profile(frame: pl.DataFrame, *, source: str = "", rules: Sequence[ValidationRule] = ()) -> Profile:
    """Profile every column of ``frame`` and evaluate ``rules`` (FEEL validations) on every row.

    >>> p = profile(pl.DataFrame({"phone": ["138 0013 8000", None]}))
    >>> p.columns[0].null_rate, p.columns[0].patterns
    (0.5, [('999 9999 9999', 1)])
    """
    columns = [profile_column(frame, name) for name in frame.columns]
    failing = pl.Series("failing", [False] * frame.height, dtype=pl.Boolean)
    counts: dict[str, int] = {}
    by_column: dict[str, dict[str, int]] = {}
    for rule in rules:
        bad = violations(frame, rule)
        counts[rule.name] = int(bad.sum())
        failing = failing | bad
        for column in rule.columns:
            by_column.setdefault(column, {})[rule.name] = counts[rule.name]
    columns = [ColumnProfile(**{**asdict(c), "violations": by_column.get(c.name, {})}) for c in columns]
    bad_rows = int(failing.sum())
    return Profile(
        source=source,
        rows=frame.height,
        columns=columns,
        rules=len(rules),
        rows_with_errors=bad_rows,
        error_rate=round(bad_rows / frame.height, 6) if frame.height else 0.0,
        violations=counts,
    )


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
.bar{background:#eee;width:120px;height:10px}.bar span{display:block;height:10px;background:#d9534f}"""


def _cell(pairs: list[tuple[str, int]]) -> str:
    return "<br>".join(f"{html.escape(v)} <small>({n})</small>" for v, n in pairs)


def _render_html(p: Profile) -> str:
    rows = []
    for c in p.columns:
        bar = f'<div class="bar"><span style="width:{c.null_rate * 100:.1f}%"></span></div>'
        rows.append(
            f"<tr><td>{html.escape(c.name)}</td><td>{c.type}</td><td>{c.null_rate:.1%}{bar}</td>"
            f"<td>{c.distinct}</td><td>{_cell(c.top_values)}</td><td>{_cell(c.patterns)}</td>"
            f"<td>{_cell(sorted(c.violations.items()))}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Column", "Type", "Null rate", "Distinct", "Top values", "Patterns", "Rules")
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Profile '
        f"{html.escape(p.source)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Profile of {html.escape(p.source)}</h1><p>{p.rows} rows · {len(p.columns)} columns · "
        f"data error rate {p.error_rate:.2%} ({p.rows_with_errors} rows failing {p.rules} rules)</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>"
    )
