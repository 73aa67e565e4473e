"""Apply cleansing rules to a frame; every rule reports what it changed (counts and samples)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from isthmus.errors import InvalidInput
from isthmus.quality._normalize import (
    DEFAULT_SUFFIXES,
    SuffixCanonicalizer,
    phone_e164,
    suffix_forms,
    to_halfwidth,
)
from isthmus.quality._rulefile import Rule, RuleKind

SAMPLES = 5
ValidationRule = Rule

#: Default date formats (chrono syntax): ISO, slashes, dots, compact, and 年月日.
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%d/%m/%Y")


@dataclass(frozen=True, slots=True)
class RuleReport:
    """What one rule did to one column: values changed, nulls before/after, a few samples."""

    rule: str
    kind: str
    column: str
    line: int | None
    changed: int
    nulls_before: int
    nulls_after: int
    distinct_before: int
    distinct_after: int
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CleanResult:
    """The cleansed frame and one report per (rule, column)."""

    frame: pl.DataFrame
    reports: list[RuleReport]

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"rows": self.frame.height, "rules": [asdict(r) for r in self.reports]}


def _by_unique(series: pl.Series, fn: Callable[[str], str | None]) -> pl.Series:
    """Apply a Python normalizer once per distinct value (columns repeat values a lot)."""
    uniques = series.drop_nulls().unique()
    mapping = {v: fn(v) for v in uniques.to_list()}
    return series.replace_strict(mapping, default=None, return_dtype=pl.String)


def _suffix_fn(rule: Rule) -> Callable[[str], str | None]:
    extra = suffix_forms(rule.options.get("suffixes") or {})
    forms = extra if rule.options.get("replace_defaults") else (*extra, *DEFAULT_SUFFIXES)
    return SuffixCanonicalizer(forms).canonical


def _phone_fn(rule: Rule) -> Callable[[str], str | None]:
    region = str(rule.options.get("region", "CN"))
    keep = rule.options.get("invalid", "keep") == "keep"
    return lambda v: phone_e164(v, region) or (v if keep else None)


def _date(series: pl.Series, rule: Rule) -> pl.Series:
    formats = rule.options.get("formats") or DATE_FORMATS
    parsed = pl.coalesce(*(pl.col("v").str.strptime(pl.Date, str(f), strict=False) for f in formats))
    keep = rule.options.get("invalid", "keep") == "keep"
    iso = parsed.dt.to_string("%Y-%m-%d")
    return (
        pl.DataFrame({"v": series})
        .select(pl.coalesce(iso, pl.col("v")) if keep else iso)
        .to_series()
        .alias(series.name)
    )


def _map(series: pl.Series, rule: Rule) -> pl.Series:
    table = {str(k): None if v is None else str(v) for k, v in rule.options["table"].items()}
    unmapped = rule.options.get("unmapped", "keep")
    if unmapped == "keep":
        return series.replace(table)
    return series.replace_strict(table, default=None if unmapped == "null" else str(unmapped))


def _fill(frame: pl.DataFrame, column: str, rule: Rule) -> pl.Series:
    series = frame.get_column(column)
    o = rule.options
    if "constant" in o:
        return series.fill_null(str(o["constant"]))
    if "from" in o:
        source = _require(frame, str(o["from"]), rule, "from")
        return series.fill_null(frame.get_column(source).cast(pl.String))
    key = _require(frame, o["lookup"]["key"], rule, "lookup")
    table = {str(k): str(v) for k, v in o["lookup"]["table"].items()}
    looked_up = (
        frame.get_column(key).cast(pl.String).replace_strict(table, default=None, return_dtype=pl.String)
    )
    return series.fill_null(looked_up)


def _require(frame: pl.DataFrame, column: str, rule: Rule, field_name: str = "columns") -> str:
    if column not in frame.columns:
        raise InvalidInput(
            "column {column!r} is not in the data (columns: {available})",
            location=rule.where(field_name),
            column=column,
            available=", ".join(frame.columns),
        )
    return column


def transform(frame: pl.DataFrame, column: str, rule: Rule) -> pl.Series:
    """The new values of ``column`` under ``rule`` (a non-validation rule)."""
    series = frame.get_column(column).cast(pl.String)
    kind = rule.kind
    if kind is RuleKind.TRIM:
        return series.str.strip_chars()
    if kind is RuleKind.HALFWIDTH:
        nfkc = bool(rule.options.get("nfkc", False))
        return _by_unique(series, lambda v: to_halfwidth(v, nfkc=nfkc))
    if kind is RuleKind.CASE:
        to = rule.options["to"]
        return (
            series.str.to_lowercase()
            if to == "lower"
            else (series.str.to_uppercase() if to == "upper" else series.str.to_titlecase())
        )
    if kind is RuleKind.COMPANY_SUFFIX:
        return _by_unique(series, _suffix_fn(rule))
    if kind is RuleKind.PHONE:
        return _by_unique(series, _phone_fn(rule))
    if kind is RuleKind.DATE:
        return _date(series, rule)
    if kind is RuleKind.MAP:
        return _map(series, rule)
    return _fill(frame, column, rule)


def _report(rule: Rule, column: str, before: pl.Series, after: pl.Series) -> RuleReport:
    changed_mask = (before.ne_missing(after)).fill_null(False)
    changed = pl.DataFrame({"row": range(before.len()), "before": before, "after": after}).filter(
        changed_mask
    )
    return RuleReport(
        rule=rule.name,
        kind=rule.kind.value,
        column=column,
        line=rule.line,
        changed=changed.height,
        nulls_before=before.null_count(),
        nulls_after=after.null_count(),
        distinct_before=before.n_unique(),
        distinct_after=after.n_unique(),
        samples=changed.head(SAMPLES).to_dicts(),
    )


def violations(frame: pl.DataFrame, rule: Rule) -> pl.Series:
    """A boolean per row: True where the FEEL ``rule`` is not true (false or null both fail)."""
    from isthmus.feel import compile_batch

    result = compile_batch(str(rule.options["rule"]), names=frame.columns).evaluate_frame(frame)
    return pl.Series("violation", [v is not True for v in result.to_list()], dtype=pl.Boolean)


def _validate_report(frame: pl.DataFrame, rule: Rule) -> RuleReport:
    bad = violations(frame, rule)
    rows = pl.Series("row", range(frame.height)).filter(bad)
    samples = [{"row": r, **frame.row(r, named=True)} for r in rows.head(SAMPLES).to_list()]
    return RuleReport(
        rule=rule.name,
        kind=rule.kind.value,
        column=",".join(rule.columns),
        line=rule.line,
        changed=int(bad.sum()),
        nulls_before=0,
        nulls_after=0,
        distinct_before=0,
        distinct_after=0,
        samples=samples,
    )


def apply_rules(frame: pl.DataFrame, rules: Sequence[Rule]) -> CleanResult:
    """Apply ``rules`` in order; validations report violations (in ``changed``) without changing data.

    Every column a rule names is checked first, so a bad rule file stops before any work.

    >>> from isthmus.quality._rulefile import parse_rules
    >>> rules = parse_rules("rules:\\n  - {type: halfwidth, columns: [n]}").rules
    >>> apply_rules(pl.DataFrame({"n": ["ＡＢ"]}), rules).frame["n"].to_list()
    ['AB']
    """
    for rule in rules:
        for column in rule.columns:
            _require(frame, column, rule)
    reports: list[RuleReport] = []
    for rule in rules:
        if rule.kind is RuleKind.VALIDATE:
            reports.append(_validate_report(frame, rule))
            continue
        for column in rule.columns:
            before = frame.get_column(column).cast(pl.String)
            after = transform(frame, column, rule).alias(column)
            frame = frame.with_columns(after)
            reports.append(_report(rule, column, before, after))
    return CleanResult(frame, reports)
