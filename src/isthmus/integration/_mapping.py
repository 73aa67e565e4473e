"""Mapping records: validation rules, FEEL field mappings, code-table lookups, types and masks.

Each expression is compiled once per flow. One message is mapped row-wise (compiled closures);
a batch (a Polars frame, one chunk of a file or a query) is mapped with FEEL batch mode, which
runs vectorised where the expression has a Polars form. Either way a record that breaks a rule,
has no idempotency key or holds a value its type cannot read is *rejected* with its row number,
and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from isthmus.feel import compile_batch, compile_expression, from_feel, to_feel
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
        source = dict(record)
        context = to_feel(source)
        for rule, message in self._rules:
            if rule.evaluate(context) is not True:
                return Rejected(row, f"validation: {message}", source)
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
            return Rejected(row, str(exc), source)

    def map_frame(self, frame: pl.DataFrame, first_row: int = 1) -> Iterator[MappedRecord | Rejected]:
        """Map one chunk; ``first_row`` numbers its rows (1-based, as in the file)."""
        rows = pl.Series("__row", range(first_row, first_row + frame.height))
        ok = pl.Series([True] * frame.height, dtype=pl.Boolean)
        failed_rule: list[str | None] = [None] * frame.height
        for rule in self.flow.rules:
            passed = (
                compile_batch(rule.expression)
                .evaluate_frame(frame)
                .cast(pl.Boolean, strict=False)
                .fill_null(False)
            )
            for index in (~passed & ok).arg_true().to_list():
                failed_rule[index] = rule.message
            ok = ok & passed
        columns = {
            name: compile_batch(text).evaluate_frame(frame)
            for name, text in self.flow.mapping.items()
            if name not in self._lookups
        }
        keys = compile_batch(self.flow.idempotency_key).evaluate_frame(frame)
        mapped_frame = pl.DataFrame(columns) if columns else pl.DataFrame({"__": [None] * frame.height})
        originals = frame.iter_rows(named=True)
        for index, (source, values, key, row) in enumerate(
            zip(originals, mapped_frame.iter_rows(named=True), keys, rows, strict=True)
        ):
            if failed_rule[index] is not None:
                yield Rejected(row, f"validation: {failed_rule[index]}", source)
                continue
            try:
                mapped = {
                    name: self._lookup(name, source) if name in self._lookups else _json(values[name])
                    for name in self.flow.mapping
                }
                yield self._finish(mapped, _json(key), row, source)
            except TransformError as exc:
                yield Rejected(row, str(exc), source)
