"""Decision tables and their hit policies (DMN 1.5 §8.2.10, §8.3.1).

A table evaluates its input expressions once, tests every rule, then lets the hit policy turn the
matched rules into a result. Single-hit policies (U, A, P, F) return one output; multi-hit
policies (R, O, C) a list, or for C with an aggregation (+ < > #) one number. A table with more
than one output returns contexts keyed by output name. A hit-policy violation (two U rules, A
rules that disagree) is an error, which DMN turns into a null result and a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from isthmus.feel import Expression, UnaryTests, shared_run

from . import _model as m
from ._feel import Compiler, run_expression, run_tests, scope_names


class TableHost(Protocol):
    """What a table needs from the engine: FEEL evaluation, unary tests, typing, bookkeeping."""

    warnings: list[str]
    compiler: Compiler
    namespace: str

    def feel(self, text: str, scope: Mapping[str, Any], names: frozenset[str] | None = None) -> Any: ...

    def matches(
        self, text: str, value: Any, scope: Mapping[str, Any], names: frozenset[str] | None = None
    ) -> bool: ...

    def coerce(self, value: Any, type_ref: str | None, what: str) -> Any: ...

    def record_matches(self, rule_ids: Sequence[str]) -> None: ...


class _Violation(Exception):
    """A hit-policy or value-list violation; the table's result is then null."""


def evaluate_table(table: m.DecisionTable, scope: Mapping[str, Any], host: TableHost) -> Any:
    """Evaluate ``table`` in ``scope``; errors become a warning and a null result."""
    # every cell is evaluated against this one scope: its names (the compile-cache key) are
    # worked out once, the cells are compiled once per table and set of names (the plan), and
    # one FEEL evaluation is opened for all of them
    names = scope_names(scope)
    plan = _plan(table, names, host)
    try:
        with shared_run(host.warnings):
            if plan is None:
                return _evaluate_cells(table, _Cells(scope, names, host), scope, host)
            return plan.evaluate(scope, host)
    except _Violation as exc:
        host.warnings.append(f"decision table: {exc}; result is null")
        return None


def _evaluate_cells(table: m.DecisionTable, cells: _Cells, scope: Mapping[str, Any], host: TableHost) -> Any:
    values = [cells.input_value(clause) for clause in table.inputs]
    matched = [rule for rule in table.rules if cells.rule_matches(rule, values)]
    host.record_matches([rule.id for rule in matched])
    if not matched:
        return _no_match(table, scope, host)
    outputs = [cells.outputs(rule, table) for rule in matched]
    return _apply_policy(table, outputs, scope, host)


def _plan(table: m.DecisionTable, names: frozenset[str], host: TableHost) -> _Plan | None:
    key = (id(table), names, host.namespace)
    plans = host.compiler.plans
    plan = plans.get(key)
    if plan is None or plan.table is not table:
        if len(plans) >= 2_000:
            plans.clear()
        try:
            plan = _Plan(table, names, host.compiler, host.namespace)
        except Exception:  # a cell the compiler chokes on: let evaluation report it where it is met
            plan = _Plan(table, names, host.compiler, host.namespace, compile_cells=False)
        plans[key] = plan
    return plan if plan.ok else None


#: an input column: clause, compiled expression, its shared-run form (None: use the compiled one),
#: the compiled input values (None: any), their shared-run form, what a violation names
_Input = tuple[m.InputClause, Any, Any, Any, Any, str]
#: single-hit policies that return a lone matched row shaped and nothing else (PRIORITY ranks it first,
#: which may evaluate output values)
_ONE_ROW_AS_IS = (m.HitPolicy.UNIQUE, m.HitPolicy.ANY, m.HitPolicy.FIRST)
#: an output cell: clause, text, compiled expression (None: empty cell), whether it is a literal,
#: its shared-run form, the compiled output values, their shared-run form, what a violation names
_Output = tuple[m.OutputClause, str, Any, Any, Any, Any, Any, str]
#: an input entry that is not ``-``: column, text, compiled tests, their shared-run form
_Test = tuple[int, str, Any, Any]


def _fast(compiled: Any) -> Any:
    """The form of a compiled expression or test to call inside the table's shared run (None: the
    text failed to compile or needs a run of its own; the plain ``run_*`` path handles it)."""
    return compiled.in_shared_run() if isinstance(compiled, Expression | UnaryTests) else None


class _Plan:
    """A decision table compiled for one set of scope names: every cell's compiled FEEL in place,
    the ``-`` entries dropped, literal outputs as values, and the cells' shared-run forms (the
    table's evaluation opens one :func:`~isthmus.feel.shared_run`), so evaluating is a walk over
    closures (DMN 1.5 §8.3 semantics, in the order :func:`_evaluate_cells` evaluates them: inputs,
    every rule, the matched outputs)."""

    __slots__ = ("inputs", "names", "ok", "rules", "table")

    def __init__(
        self,
        table: m.DecisionTable,
        names: frozenset[str],
        compiler: Compiler,
        namespace: str,
        *,
        compile_cells: bool = True,
    ) -> None:
        self.table = table
        self.names = tuple(clause.name or f"output{i + 1}" for i, clause in enumerate(table.outputs))
        # rows of the wrong width (zip(strict=True) fails mid-evaluation) keep the cell-by-cell path
        self.ok = compile_cells and all(
            len(r.input_entries) == len(table.inputs) and len(r.output_entries) == len(table.outputs)
            for r in table.rules
        )
        if not self.ok:
            self.inputs: list[_Input] = []
            self.rules: list[tuple[m.Rule, tuple[_Test, ...], tuple[_Output, ...]]] = []
            return

        def allowed(text: str | None) -> Any:
            return compiler.tests(text, names, namespace) if text and text.strip() else None

        self.inputs = []
        for clause in table.inputs:
            compiled = compiler.expression(clause.expression, names, namespace)
            values = allowed(clause.input_values)
            what = f"input {clause.expression!r}"
            self.inputs.append((clause, compiled, _fast(compiled), values, _fast(values), what))
        outputs_of: list[tuple[m.OutputClause, Any, Any, str]] = []
        for out in table.outputs:
            values = allowed(out.output_values)
            outputs_of.append((out, values, _fast(values), f"output {out.name or ''}".strip()))
        self.rules = []
        for rule in table.rules:
            tests: list[_Test] = []
            for i, text in enumerate(e.strip() for e in rule.input_entries):
                if text not in ("", "-"):
                    compiled = compiler.tests(text, names, namespace)
                    tests.append((i, text, compiled, _fast(compiled)))
            outputs: list[_Output] = []
            for (out, values, values_fast, what), text in zip(outputs_of, rule.output_entries, strict=True):
                compiled = compiler.expression(text, names, namespace) if text.strip() else None
                literal = isinstance(compiled, Expression) and compiled.is_constant
                outputs.append((out, text, compiled, literal, _fast(compiled), values, values_fast, what))
            self.rules.append((rule, tuple(tests), tuple(outputs)))

    def evaluate(self, scope: Mapping[str, Any], host: TableHost) -> Any:
        if scope.__class__ is not dict:
            scope = dict(scope)  # what each cell's evaluate() would do
        warnings = host.warnings
        values = self._input_values(scope, host)
        matched = []
        for rule, tests, outputs in self.rules:
            for index, text, compiled, fast in tests:
                if fast is not None:
                    if not fast(values[index], scope):
                        break
                elif not run_tests(compiled, text, values[index], scope, warnings):
                    break
            else:
                matched.append((rule, outputs))
        host.record_matches([rule.id for rule, _ in matched])
        if not matched:
            return _no_match(self.table, scope, host)
        if len(matched) == 1 and self.table.hit_policy in _ONE_ROW_AS_IS:
            row = self._row(matched[0][1], scope, host)  # what _apply_policy does with one row here
            return row[0] if len(row) == 1 else dict(zip(self.names, row, strict=True))
        rows = [self._row(outputs, scope, host) for _, outputs in matched]
        return _apply_policy(self.table, rows, scope, host)

    def _input_values(self, scope: dict[str, Any], host: TableHost) -> list[Any]:
        warnings = host.warnings
        values = []
        for clause, compiled, fast, allowed, allowed_fast, what in self.inputs:
            if fast is not None:
                value = fast(scope)
            else:
                value = run_expression(compiled, clause.expression, scope, warnings)
            if clause.type_ref:
                value = host.coerce(value, clause.type_ref, what)
            if (
                allowed is not None
                and value is not None
                and not (
                    allowed_fast(value, scope)
                    if allowed_fast is not None
                    else run_tests(allowed, clause.input_values or "", value, scope, warnings)
                )
            ):
                raise _Violation(
                    f"input {clause.expression!r} = {value!r} is not among {clause.input_values}"
                )
            values.append(value)
        return values

    @staticmethod
    def _row(outputs: tuple[_Output, ...], scope: dict[str, Any], host: TableHost) -> tuple[Any, ...]:
        row = []
        for clause, text, compiled, literal, fast, allowed, allowed_fast, what in outputs:
            if literal:
                value = compiled.constant
            elif compiled is None:
                value = None
            elif fast is not None:
                value = fast(scope)
            else:
                value = run_expression(compiled, text, scope, host.warnings)
            if clause.type_ref:
                value = host.coerce(value, clause.type_ref, what)
            if (
                allowed is not None
                and value is not None
                and not (
                    allowed_fast(value, scope)
                    if allowed_fast is not None
                    else run_tests(allowed, clause.output_values or "", value, scope, host.warnings)
                )
            ):
                raise _Violation(f"output {value!r} is not among {clause.output_values}")
            row.append(value)
        return tuple(row)


class _Cells:
    """The cells of one table evaluated against one scope."""

    __slots__ = ("host", "names", "scope")

    def __init__(self, scope: Mapping[str, Any], names: frozenset[str], host: TableHost) -> None:
        self.scope = scope
        self.names = names
        self.host = host

    def input_value(self, clause: m.InputClause) -> Any:
        host = self.host
        value = host.feel(clause.expression, self.scope, self.names)
        if clause.type_ref:
            value = host.coerce(value, clause.type_ref, f"input {clause.expression!r}")
        values = clause.input_values
        if (
            values
            and values.strip()
            and value is not None
            and not host.matches(values, value, self.scope, self.names)
        ):
            raise _Violation(f"input {clause.expression!r} = {value!r} is not among {clause.input_values}")
        return value

    def rule_matches(self, rule: m.Rule, values: Sequence[Any]) -> bool:
        host, scope, names = self.host, self.scope, self.names
        for entry, value in zip(rule.input_entries, values, strict=True):
            text = entry.strip()
            if text in ("", "-"):
                continue
            if not host.matches(text, value, scope, names):
                return False
        return True

    def outputs(self, rule: m.Rule, table: m.DecisionTable) -> tuple[Any, ...]:
        host, scope, names = self.host, self.scope, self.names
        return tuple(
            self.checked_output(clause, host.feel(text, scope, names) if text.strip() else None)
            for clause, text in zip(table.outputs, rule.output_entries, strict=True)
        )

    def checked_output(self, clause: m.OutputClause, value: Any) -> Any:
        host = self.host
        if clause.type_ref:
            value = host.coerce(value, clause.type_ref, f"output {clause.name or ''}".strip())
        values = clause.output_values
        if (
            values
            and values.strip()
            and value is not None
            and not host.matches(values, value, self.scope, self.names)
        ):
            raise _Violation(f"output {value!r} is not among {values}")
        return value


def _shape(table: m.DecisionTable, row: tuple[Any, ...]) -> Any:
    """One output: its value; several: a context keyed by output name."""
    if len(table.outputs) == 1:
        return row[0]
    return {
        clause.name or f"output{i + 1}": value
        for i, (clause, value) in enumerate(zip(table.outputs, row, strict=True))
    }


def _no_match(table: m.DecisionTable, scope: Mapping[str, Any], host: TableHost) -> Any:
    if table.hit_policy is m.HitPolicy.COLLECT and table.aggregation is m.Aggregation.COUNT:
        return Decimal(0)
    if not any(clause.default for clause in table.outputs):
        return [] if _is_multi_hit(table) and table.aggregation is None else None
    row = tuple(
        host.feel(clause.default, scope) if clause.default and clause.default.strip() else None
        for clause in table.outputs
    )
    return _shape(table, row)


def _is_multi_hit(table: m.DecisionTable) -> bool:
    return table.hit_policy in (m.HitPolicy.COLLECT, m.HitPolicy.RULE_ORDER, m.HitPolicy.OUTPUT_ORDER)


def _apply_policy(
    table: m.DecisionTable, rows: list[tuple[Any, ...]], scope: Mapping[str, Any], host: TableHost
) -> Any:
    policy = table.hit_policy
    if policy is m.HitPolicy.UNIQUE:
        if len(rows) > 1:
            raise _Violation(f"{len(rows)} rules matched under hit policy UNIQUE")
        return _shape(table, rows[0])
    if policy is m.HitPolicy.ANY:
        if any(row != rows[0] for row in rows[1:]):
            raise _Violation("matched rules disagree under hit policy ANY")
        return _shape(table, rows[0])
    if policy is m.HitPolicy.FIRST:
        return _shape(table, rows[0])
    if policy is m.HitPolicy.RULE_ORDER:
        return [_shape(table, row) for row in rows]
    if policy in (m.HitPolicy.PRIORITY, m.HitPolicy.OUTPUT_ORDER):
        ordered = sorted(rows, key=_priority_key(table, scope, host))
        if policy is m.HitPolicy.PRIORITY:
            return _shape(table, ordered[0])
        return [_shape(table, row) for row in ordered]
    return _collect(table, rows)


def _priority_key(
    table: m.DecisionTable, scope: Mapping[str, Any], host: TableHost
) -> Callable[[tuple[Any, ...]], tuple[int, ...]]:
    """Sort key: for each output in order, the position of its value in the output-values list."""
    lists = [split_unary_tests(clause.output_values or "") for clause in table.outputs]

    def key(row: tuple[Any, ...]) -> tuple[int, ...]:
        ranks = []
        for tests, value in zip(lists, row, strict=True):
            if not tests:
                continue
            rank = next((i for i, t in enumerate(tests) if host.matches(t, value, scope)), len(tests))
            ranks.append(rank)
        return tuple(ranks)

    return key


def _collect(table: m.DecisionTable, rows: list[tuple[Any, ...]]) -> Any:
    if table.aggregation is None:
        return [_shape(table, row) for row in rows]
    if len(table.outputs) != 1:
        raise _Violation("an aggregation needs exactly one output")
    values = [row[0] for row in rows]
    if table.aggregation is m.Aggregation.COUNT:
        return Decimal(len(values))
    present = [v for v in values if v is not None]
    if not present:
        return None
    try:
        if table.aggregation is m.Aggregation.SUM:
            return sum(present, Decimal(0))
        if table.aggregation is m.Aggregation.MIN:
            return min(present)
        return max(present)
    except TypeError as exc:
        raise _Violation(f"cannot aggregate {values!r}: {exc}") from None


def split_unary_tests(text: str) -> list[str]:
    """Split ``"a", "b", < 3`` at top-level commas (not inside quotes, brackets or parentheses)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, char in enumerate(text):
        if quoted:
            quoted = char != '"' or text[i - 1] == "\\"
        elif char == '"':
            quoted = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    last = text[start:].strip()
    if last:
        parts.append(last)
    return [p for p in parts if p]
