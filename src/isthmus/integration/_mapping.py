"""Mapping records: validation rules, FEEL field mappings, code-table lookups, types and masks.

Each expression is compiled once per flow. One message is mapped row-wise (compiled closures);
a batch (a Polars frame, one chunk of a file or a query) is mapped with FEEL batch mode, which
runs vectorised where the expression has a Polars form. Either way a record that breaks a rule,
has no idempotency key or holds a value its type cannot read is *rejected* with its row number,
and the others go on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from isthmus.feel import BatchExpression, compile_batch, compile_expression, from_feel, to_feel
from isthmus.feel._regex import compile_pattern
from isthmus.integration._cleansing import cleanse_frame, cleanse_record
from isthmus.integration._definition import FieldType, FlowDefinition, MaskKind, _lookup_parts
from isthmus.security import mask_id_number, mask_personal_data, mask_phone


@dataclass(frozen=True, slots=True)
class MappedRecord:
    """A record ready for the outbox: its idempotency key, the target payload and its masked copy."""

    key: str
    payload: dict[str, Any]
    display: dict[str, Any]
    row: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that cannot be delivered as it is; goes to the dead-letter queue."""

    row: int | None
    error: str
    record: dict[str, Any]
    key: str | None = None


class TransformError(ValueError):
    pass


KEY = "__key"
ROW = "__row"


@dataclass(frozen=True, slots=True)
class MappedChunk:
    """One chunk mapped in batch mode.

    ``frame`` holds the valid rows: the mapped fields in mapping order, then ``__key`` (the
    idempotency key as text) and ``__row`` (the source row number). Within a chunk a key appears
    once: the last row with that key wins, as a later upsert of the same key would, and the others
    are counted in ``duplicates``. ``rejected`` are the rows that cannot be delivered, in row order.
    """

    frame: pl.DataFrame
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    first_row: int = 1
    rows: int = 0

    @property
    def last_row(self) -> int:
        return self.first_row + self.rows - 1


def rejected_key(rejected: Rejected) -> str:
    """A rejected record's outbox key: its row and a digest of its content, so re-reading the same
    file drops it as a duplicate while row 5 of another file is a message of its own."""
    digest = hashlib.blake2b(
        json.dumps(rejected.record, sort_keys=True, default=str).encode(), digest_size=8
    ).hexdigest()
    return f"rejected:row:{rejected.row}:{digest}"


# ``matches(name, "pattern")`` with a pattern Rust's regex engine reads as Python's does: run by
# Polars instead of once per row (the XPath ``$`` is already translated to Python's ``\Z``).
_MATCHES = re.compile(r'^\s*matches\(\s*([A-Za-z_]\w*)\s*,\s*("(?:[^"\\]|\\.)*")\s*\)\s*$')
_SAFE_PATTERN = re.compile(r"^[\w\\^$\[\]{}(),.+*?|: @-]*$")


def _polars_matches(expression: str) -> pl.Expr | None:
    match = _MATCHES.match(expression)
    if match is None:
        return None
    try:
        pattern = compile_expression(match.group(2)).evaluate({})
    except Exception:
        return None
    if not isinstance(pattern, str):
        return None
    try:
        python = compile_pattern(pattern).pattern  # the XPath dialect as Python reads it
    except Exception:
        return None
    if (
        not _SAFE_PATTERN.match(python)
        or "(?" in python
        or re.search(r"\\[^dDwWsSZ.^$\[\]{}()|*+?-]", python)
    ):
        return None  # a construct Rust's engine may read differently: FEEL runs it row by row
    rust = python.replace("\\Z", "\\z")
    return pl.col(match.group(1)).str.contains(rust)


_PLAIN_DECIMAL = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_CN_MOBILE_ONLY = r"^1[3-9][0-9]{9}$"


def mask_name(value: str) -> str:
    """``张三`` → ``张*``, ``王小明`` → ``王*明`` (keep the first and, past two characters, the last)."""
    if len(value) <= 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


_MASKS: dict[MaskKind, Callable[[str], str]] = {
    MaskKind.PHONE: mask_phone,
    MaskKind.ID_NUMBER: mask_id_number,
    MaskKind.NAME: mask_name,
}


def _cast(value: Any, kind: FieldType) -> Any:
    """JSON-safe typed values: decimals as exact strings (money is never float), dates as ISO text."""
    if value is None:
        return None
    try:
        if kind is FieldType.STRING:
            return str(value)
        if kind is FieldType.INTEGER:
            return int(Decimal(str(value)))
        if kind is FieldType.DECIMAL:
            return str(Decimal(str(value).strip().replace(",", "")))
        if kind is FieldType.DATE:
            return (
                value if isinstance(value, date) else date.fromisoformat(str(value).strip()[:10])
            ).isoformat()
        return str(value).strip().lower() in {"1", "true", "yes", "y", "是"}
    except (InvalidOperation, ValueError) as exc:
        raise TransformError(f"expected {kind.value}, got {value!r}") from exc


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return from_feel(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class FlowMapper:
    """The compiled mapping of one flow.

    Example:
        >>> from isthmus.integration import EXAMPLE, parse_flow
        >>> mapper = FlowMapper(parse_flow(EXAMPLE))
        >>> mapper.map_record({"order_id": "SO-1", "cust_code": "C9"}).payload
        {'vbeln': 'SO-1', 'kunnr': 'C9'}
    """

    def __init__(self, flow: FlowDefinition) -> None:
        self.flow = flow
        self._rules = [(compile_expression(r.expression), r.message) for r in flow.rules]
        self._fields = {name: compile_expression(text) for name, text in flow.mapping.items()}
        self._lookups = {
            name: parts
            for name, text in flow.mapping.items()
            if (parts := _lookup_parts(text, flow.code_tables))
        }
        self._key = compile_expression(flow.idempotency_key)
        self._transforms = flow.transforms
        self._batch_rules = [compile_batch(r.expression) for r in flow.rules]
        self._batch_fields = {
            name: compile_batch(text) for name, text in flow.mapping.items() if name not in self._lookups
        }
        self._batch_key = compile_batch(flow.idempotency_key)
        self._cleanse_batch: dict[str, BatchExpression] = {}

    def _cleanse_check(self, expression: str, frame: pl.DataFrame) -> pl.Series:
        """A cleansing ``validate`` rule, checked as the flow's own rules are (compiled once)."""
        compiled = self._cleanse_batch.get(expression)
        if compiled is None:
            compiled = self._cleanse_batch[expression] = compile_batch(expression)
        return _rule_passes(expression, compiled, frame)

    def _lookup(self, name: str, record: Mapping[str, Any]) -> Any:
        table, column = self._lookups[name]
        value = record.get(column)
        codes = self.flow.code_tables[table]
        if value is None or str(value) not in codes:
            raise TransformError(f"{column}={value!r} is not in code table {table}")
        return codes[str(value)]

    def _finish(
        self, mapped: dict[str, Any], key: Any, row: int | None, record: dict[str, Any]
    ) -> MappedRecord:
        if key is None or key == "":
            raise TransformError("the idempotency key is empty")
        display = dict(mapped)
        for transform in self._transforms:
            value = mapped.get(transform.field)
            if transform.type is not None:
                try:
                    value = _cast(value, transform.type)
                except TransformError as exc:
                    raise TransformError(f"field {transform.field!r}: {exc}") from exc
            mapped[transform.field] = display[transform.field] = value
            if transform.mask is not None and isinstance(value, str):
                # The mask applies to what leaves Isthmus too: the target only needs the masked form.
                mapped[transform.field] = display[transform.field] = _MASKS[transform.mask](value)
        return MappedRecord(key=str(key), payload=mapped, display=mask_personal_data(display), row=row)

    def map_record(self, record: Mapping[str, Any], row: int | None = None) -> MappedRecord | Rejected:
        """Map one source record (a JSON object); never raises for bad data."""
        original = dict(record)
        source, broken = cleanse_record(self.flow.cleanse, original)  # quality rules first
        if broken is not None:
            return Rejected(row, broken, original)
        context = to_feel(source)
        for rule, message in self._rules:
            if rule.evaluate(context) is not True:
                return Rejected(row, f"validation: {message}", original)
        try:
            mapped = {
                name: self._lookup(name, source)
                if name in self._lookups
                else _json(from_feel(expr.evaluate(context)))
                for name, expr in self._fields.items()
            }
            key = from_feel(self._key.evaluate(context))
            return self._finish(mapped, key, row, source)
        except TransformError as exc:
            return Rejected(row, str(exc), original)

    def map_frame(self, frame: pl.DataFrame, first_row: int = 1) -> Iterator[MappedRecord | Rejected]:
        """Map one chunk; ``first_row`` numbers its rows (1-based, as in the file). One result per
        row in row order (duplicate keys included): the record-at-a-time view of :meth:`map_chunk`."""
        chunk = self.map_chunk(frame, first_row, dedupe=False)
        rejected = iter(chunk.rejected)
        next_rejected = next(rejected, None)
        fields = list(self.flow.mapping)
        for values in chunk.frame.iter_rows(named=True):
            while next_rejected is not None and (next_rejected.row or 0) < values[ROW]:
                yield next_rejected
                next_rejected = next(rejected, None)
            payload = {name: values[name] for name in fields}
            yield MappedRecord(values[KEY], payload, mask_personal_data(payload), values[ROW])
        while next_rejected is not None:
            yield next_rejected
            next_rejected = next(rejected, None)

    def map_chunk(self, frame: pl.DataFrame, first_row: int = 1, *, dedupe: bool = True) -> MappedChunk:
        """Map one chunk in FEEL batch mode, column by column.

        Rules, mappings and the key run as Polars expressions where FEEL has one; types and masks
        take a vectorised path for the common shapes (plain decimals, 11-digit mobiles) and the
        row-wise functions for the rest, so each row gets exactly what :meth:`map_record` gives it.
        """
        original = frame  # rejected rows are dead-lettered as read, so a replay cleanses them again
        frame, broken = cleanse_frame(self.flow.cleanse, frame, self._cleanse_check)
        height = frame.height
        rows = pl.Series(ROW, range(first_row, first_row + height), dtype=pl.Int64)
        errors: list[str | None] = [None] * height
        ok = pl.Series([True] * height, dtype=pl.Boolean)

        def reject(failed: pl.Series, message: Callable[[int], str]) -> None:
            nonlocal ok
            for index in (failed & ok).arg_true().to_list():
                errors[index] = message(index)
            ok = ok & ~failed

        if any(broken):
            reject(pl.Series([b is not None for b in broken], dtype=pl.Boolean), lambda i: str(broken[i]))
        for rule, compiled in zip(self.flow.rules, self._batch_rules, strict=True):
            reject(~_rule_passes(rule.expression, compiled, frame), _constant(f"validation: {rule.message}"))
        columns: dict[str, pl.Series] = {}
        for name in self.flow.mapping:
            if name in self._lookups:
                columns[name] = self._lookup_column(name, frame, reject)
            else:
                columns[name] = _json_series(self._batch_fields[name].evaluate_frame(frame), name)
        keys = _json_series(self._batch_key.evaluate_frame(frame), KEY)
        key_text = _as_text(keys)
        reject(key_text.is_null() | (key_text == ""), lambda _: "the idempotency key is empty")
        for transform in self._transforms:
            column = columns.get(transform.field)
            if column is None:
                column = pl.Series(transform.field, [None] * height)
            if transform.type is not None:
                column = _typed(column, transform.type, transform.field, reject)
            if transform.mask is not None:
                column = _masked(column, transform.mask)
            columns[transform.field] = column
        out = pl.DataFrame([columns[name].alias(name) for name in self.flow.mapping]).with_columns(
            key_text.alias(KEY), rows
        )
        valid = out.filter(ok)
        rejected = [
            Rejected(first_row + i, str(errors[i]), _record(original, i)) for i in (~ok).arg_true().to_list()
        ]
        duplicates = 0
        if dedupe and valid.height:
            unique = valid.unique(subset=[KEY], keep="last", maintain_order=True)
            duplicates = valid.height - unique.height
            valid = unique
        return MappedChunk(valid, rejected, duplicates, first_row, height)

    def _lookup_column(
        self, name: str, frame: pl.DataFrame, reject: Callable[[pl.Series, Callable[[int], str]], None]
    ) -> pl.Series:
        table, column = self._lookups[name]
        codes = self.flow.code_tables[table]
        source = frame.get_column(column).to_list() if column in frame.columns else [None] * frame.height
        found = [None if v is None else codes.get(str(v)) for v in source]
        missing = pl.Series([v is None or str(v) not in codes for v in source], dtype=pl.Boolean)
        reject(missing, lambda i: f"{column}={source[i]!r} is not in code table {table}")
        return pl.Series(name, found, strict=False)


def _constant(text: str) -> Callable[[int], str]:
    return lambda _: text


def _rule_passes(expression: str, compiled: BatchExpression, frame: pl.DataFrame) -> pl.Series:
    fast = _polars_matches(expression)
    passed: pl.Series | None = None
    if fast is not None:
        try:
            passed = frame.select(fast.alias("r")).to_series()
        except pl.exceptions.PolarsError:
            passed = None  # not a text column: FEEL decides row by row
    if passed is None:
        passed = compiled.evaluate_frame(frame)
    return passed.cast(pl.Boolean, strict=False).fill_null(False)


def _record(frame: pl.DataFrame, index: int) -> dict[str, Any]:
    return {k: _json(v) for k, v in frame.row(index, named=True).items()}


def _json_series(series: pl.Series, name: str) -> pl.Series:
    """Row-wise FEEL results (an Object column of Decimals, dates) as JSON-safe values."""
    if series.dtype == pl.Object or series.dtype == pl.Decimal:
        return pl.Series(name, [_json(v) for v in series.to_list()], strict=False)
    return series.alias(name)


def _as_text(series: pl.Series) -> pl.Series:
    if series.dtype == pl.String:
        return series
    if series.dtype.is_integer():
        return series.cast(pl.String)
    return pl.Series(series.name, [None if v is None else str(_json(v)) for v in series.to_list()])


def _row_wise(series: pl.Series, fn: Callable[[Any], Any], todo: pl.Series) -> tuple[list[Any], list[int]]:
    """``fn`` on the rows marked ``todo``; the indexes where it raised ``TransformError``."""
    values = series.to_list()
    failed: list[int] = []
    for index in todo.arg_true().to_list():
        try:
            values[index] = fn(values[index])
        except TransformError:
            failed.append(index)
    return values, failed


def _typed(
    series: pl.Series,
    kind: FieldType,
    name: str,
    reject: Callable[[pl.Series, Callable[[int], str]], None],
) -> pl.Series:
    """``_cast`` on a column: vectorised for text already in the target form, row-wise otherwise."""
    present = series.is_not_null()
    if series.dtype == pl.String and kind is FieldType.DECIMAL:
        fast = series.str.contains(_PLAIN_DECIMAL).fill_null(False)
    elif series.dtype == pl.String and kind is FieldType.STRING:
        fast = present
    elif series.dtype.is_integer() and kind in (FieldType.INTEGER, FieldType.STRING):
        cast = series.cast(pl.String) if kind is FieldType.STRING else series
        return cast.alias(name)
    else:
        fast = pl.Series([False] * series.len(), dtype=pl.Boolean)
    todo = present & ~fast
    if not todo.any():
        return series.alias(name)
    original = series.to_list()
    values, failed = _row_wise(series, lambda v: _cast(v, kind), todo)
    for index in failed:
        values[index] = None
    if failed:
        bad = pl.Series([False] * series.len(), dtype=pl.Boolean).scatter(failed, True)
        reject(bad, lambda i: f"field {name!r}: expected {kind.value}, got {original[i]!r}")
    return pl.Series(name, values, strict=False)


def _masked(series: pl.Series, kind: MaskKind) -> pl.Series:
    if series.dtype != pl.String:
        return series  # masks apply to text only, as in map_record
    if kind is MaskKind.PHONE:
        fast = series.str.contains(_CN_MOBILE_ONLY).fill_null(False)
        masked = series.str.slice(0, 3) + pl.lit("****") + series.str.slice(7)
        series = pl.select(pl.when(fast).then(masked).otherwise(series)).to_series().alias(series.name)
        todo = series.is_not_null() & ~fast
    else:
        todo = series.is_not_null()
    if not todo.any():
        return series
    values, _ = _row_wise(series, _MASKS[kind], todo)
    return pl.Series(series.name, values, dtype=pl.String)
