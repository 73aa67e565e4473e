"""Migration plans: source → FEEL mapping → target, parsed with line/field errors and applied to frames.

A plan is YAML::

    source: sqlite:///crm.db#customers      # a file or URL#table
    target: postgresql://erp@db/erp#kunden  # URL#table; the table must exist and hold ``key``
    key: kunnr                              # the target's key column (must be mapped)
    batch_size: 10000
    watermark: updated_at                   # optional: a source column for incremental sync
    mapping:                                # target column: FEEL over the source columns
      kunnr: cust_code
      name1: upper case(name)
      telf1: phone

The executor (``isthmus.adapters.tabular.migrate``) runs it in batches with checkpoints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import yaml

from isthmus.errors import InvalidInput, Location, SyntaxProblem

_FIELDS = {"source", "target", "key", "mapping", "batch_size", "watermark"}


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """A parsed plan; ``lines`` maps each top-level field and each mapped column to its line."""

    source: str
    target: str
    key: str
    mapping: Mapping[str, str]
    batch_size: int = 10_000
    watermark: str | None = None
    file: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, name: str) -> Location:
        return Location(file=self.file, line=self.lines.get(name), field=name)

    @property
    def fingerprint(self) -> str:
        """Identifies the plan's meaning (a resumed run must follow the same plan)."""
        text = repr((self.source, self.target, self.key, sorted(self.mapping.items()), self.watermark))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _lines(node: yaml.Node | None, prefix: str = "") -> dict[str, int]:
    found: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            found[prefix + str(k.value)] = k.start_mark.line + 1
            if k.value == "mapping":
                found.update(_lines(v, "mapping."))
    return found


def parse_plan(text: str, *, file: str | None = None) -> MigrationPlan:
    """Parse a plan; errors name the line and field.

    >>> parse_plan("source: a.csv\\ntarget: sqlite:///t.db#t\\nkey: id\\nmapping: {id: code}\\n").mapping
    {'id': 'code'}
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise SyntaxProblem(
            "not valid YAML", location=Location(file=file, line=mark.line + 1 if mark else None)
        ) from error
    if not isinstance(data, dict):
        raise InvalidInput(
            "a plan is a mapping with source, target, key and mapping", location=Location(file=file)
        )
    lines = _lines(node)
    for name in sorted(set(data) - _FIELDS):
        raise InvalidInput("unknown field; allowed: {allowed}", location=Location(file=file, line=lines.get(name), field=name),
                           allowed=", ".join(sorted(_FIELDS)))  # fmt: skip
    for name in ("source", "target", "key", "mapping"):
        if not data.get(name):
            raise InvalidInput("a plan needs {name!r}", location=Location(file=file, field=name), name=name)
    mapping = data["mapping"]
    if not isinstance(mapping, dict):
        raise InvalidInput(
            "'mapping' maps target columns to FEEL",
            location=Location(file=file, line=lines.get("mapping"), field="mapping"),
        )
    plan = MigrationPlan(
        source=str(data["source"]), target=str(data["target"]), key=str(data["key"]),
        mapping={str(k): str(v) for k, v in mapping.items()}, batch_size=int(data.get("batch_size", 10_000)),
        watermark=data.get("watermark"), file=file, lines=lines,
    )  # fmt: skip
    if plan.key not in plan.mapping:
        raise InvalidInput("the key column {key!r} is not mapped", location=plan.where("key"), key=plan.key)
    return plan


def check_columns(plan: MigrationPlan, source_columns: Sequence[str], target_columns: Sequence[str]) -> None:
    """Stop before writing when a mapping names a missing column on either side."""
    from isthmus.feel import FeelSyntaxError, compile_expression

    if plan.key not in target_columns:
        raise InvalidInput("the target has no key column {key!r}", location=plan.where("key"), key=plan.key)
    if plan.watermark and plan.watermark not in source_columns:
        raise InvalidInput("the source has no watermark column {column!r}", location=plan.where("watermark"),
                           column=plan.watermark)  # fmt: skip
    for column, expression in plan.mapping.items():
        at = plan.where(f"mapping.{column}")
        if column not in target_columns:
            raise InvalidInput("the target has no column {column!r}", location=at, column=column)
        try:
            compile_expression(expression, names=source_columns)
        except FeelSyntaxError as error:
            raise InvalidInput(
                "FEEL does not parse: {problem}", location=at, problem=error.message
            ) from error
        if expression.isidentifier() and expression not in source_columns:
            raise InvalidInput("the source has no column {column!r} (columns: {available})", location=at,
                               column=expression, available=", ".join(source_columns))  # fmt: skip


def map_frame(plan: MigrationPlan, source: pl.DataFrame) -> pl.DataFrame:
    """The target rows: one column per mapping (FEEL in batch mode), sorted by the key, keys unique."""
    from isthmus.feel import compile_batch

    columns = {
        target: compile_batch(expression, names=source.columns).evaluate_frame(source).alias(target)
        for target, expression in plan.mapping.items()
    }
    frame = pl.DataFrame(list(columns.values()))
    if frame.height and frame.get_column(plan.key).null_count():
        raise InvalidInput("{n} source rows map to a null key", location=plan.where("key"),
                           n=frame.get_column(plan.key).null_count())  # fmt: skip
    duplicated = frame.get_column(plan.key).is_duplicated()
    if duplicated.any():
        example = frame.filter(duplicated).get_column(plan.key)[0]
        raise InvalidInput(
            "the key {value!r} appears twice in the source", location=plan.where("key"), value=str(example)
        )
    return frame.sort(plan.key)


def row_digest(values: Sequence[Any]) -> str:
    """A stable digest of one row's values (as text; null distinct from the empty string)."""
    text = "\x1f".join("\x00" if v is None else str(v) for v in values)
    return hashlib.sha256(text.encode()).hexdigest()


def range_checksums(rows: Sequence[tuple[Any, ...]], *, ranges: int = 16) -> list[tuple[str, str, str]]:
    """``(first key, last key, checksum)`` per key range of rows sorted by their first value (the key)."""
    if not rows:
        return []
    size = max(1, -(-len(rows) // ranges))
    out = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        digest = hashlib.sha256("".join(row_digest(r) for r in chunk).encode()).hexdigest()[:16]
        out.append((str(chunk[0][0]), str(chunk[-1][0]), digest))
    return out
