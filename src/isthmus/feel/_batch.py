"""Batch mode: one FEEL expression over every row of a Polars frame (integration mappings).

The parse tree is translated into a Polars expression when every node has a Polars counterpart with
the same FEEL semantics (``=`` is ``eq_missing`` because ``null = null`` is true; ``and``/``or`` are
Kleene logic as in FEEL; ``if`` takes the ``else`` branch on null). Anything else — user functions,
loops, temporal arithmetic — makes :meth:`BatchExpression.to_polars` return None and
:meth:`BatchExpression.evaluate_frame` falls back to the compiled closure, row by row. Polars computes
in binary floating point where FEEL uses decimal128: numbers agree to float precision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import polars as pl
from lark import Token, Tree

from isthmus.feel._compiler import name_of
from isthmus.feel._expression import Expression, compile_expression
from isthmus.feel._parser import parse
from isthmus.feel._types import DaysTimeDuration, YearsMonthsDuration
from isthmus.feel._values import to_feel, to_string


class _Unsupported(Exception):
    """A node with no faithful Polars translation."""


_COMPARE: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "=": lambda a, b: a.eq_missing(b),
    "!=": lambda a, b: a.ne_missing(b),
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_ARITH: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: pl.when(b != 0).then(a / b).otherwise(None),  # FEEL: x / 0 is null
}


def _scale(args: list[Any], index: int) -> int:
    if len(args) <= index:
        return 0
    node = args[index]
    if isinstance(node, Tree) and node.data == "number" and Decimal(str(node.children[0])) % 1 == 0:
        return int(str(node.children[0]))
    raise _Unsupported("scale must be an integer literal")


def _substring(args: list[pl.Expr], nodes: list[Any]) -> pl.Expr:
    start_node = nodes[1]
    negative = isinstance(start_node, Tree) and start_node.data == "neg"
    literal = start_node.children[-1] if negative else start_node
    if not (isinstance(literal, Tree) and literal.data == "number"):
        raise _Unsupported("substring start must be a literal")
    start = int(str(literal.children[0])) * (-1 if negative else 1)
    if start == 0:
        raise _Unsupported("substring start 0")
    offset = start - 1 if start > 0 else start
    length = _length(nodes)
    return args[0].str.slice(offset, length)


def _length(nodes: list[Any]) -> int | None:
    if len(nodes) < 3:
        return None
    node = nodes[2]
    if isinstance(node, Tree) and node.data == "number":
        return int(Decimal(str(node.children[0])))
    raise _Unsupported("substring length must be a literal")


_FUNCTIONS: dict[str, Callable[[list[pl.Expr], list[Any]], pl.Expr]] = {
    "upper case": lambda a, n: a[0].str.to_uppercase(),
    "lower case": lambda a, n: a[0].str.to_lowercase(),
    "string length": lambda a, n: a[0].str.len_chars(),
    "substring": _substring,
    "contains": lambda a, n: a[0].str.contains(a[1], literal=True),
    "starts with": lambda a, n: a[0].str.starts_with(a[1]),
    "ends with": lambda a, n: a[0].str.ends_with(a[1]),
    "abs": lambda a, n: a[0].abs(),
    "floor": lambda a, n: a[0].floor() if len(a) == 1 else _no(),
    "ceiling": lambda a, n: a[0].ceil() if len(a) == 1 else _no(),
    "decimal": lambda a, n: a[0].round(_scale(n, 1), mode="half_to_even"),
    "round half up": lambda a, n: a[0].round(_scale(n, 1), mode="half_away_from_zero"),
    "not": lambda a, n: ~a[0],
    "date": lambda a, n: a[0].str.strptime(pl.Date, "%Y-%m-%d", strict=False) if len(a) == 1 else _no(),
}


def _no() -> pl.Expr:
    raise _Unsupported("no Polars form")


class _Translator:
    """Parse tree → Polars expression, or :class:`_Unsupported`."""

    def expr(self, node: Any) -> pl.Expr:
        method = getattr(self, "t_" + str(node.data), None)
        if method is None:
            raise _Unsupported(str(node.data))
        result: pl.Expr = method(node)
        return result

    def t_start(self, node: Any) -> pl.Expr:
        return self.expr(node.children[0])

    def t_number(self, node: Any) -> pl.Expr:
        value = Decimal(str(node.children[0]))
        return pl.lit(int(value) if value % 1 == 0 else float(value))

    def t_string(self, node: Any) -> pl.Expr:
        return pl.lit(str(node.children[0]), dtype=pl.String)

    def t_true(self, node: Any) -> pl.Expr:
        return pl.lit(True)

    def t_false(self, node: Any) -> pl.Expr:
        return pl.lit(False)

    def t_null(self, node: Any) -> pl.Expr:
        return pl.lit(None)

    def t_name(self, node: Any) -> pl.Expr:
        return pl.col(name_of(node))

    def t_path(self, node: Any) -> pl.Expr:
        return self.expr(node.children[0]).struct.field(name_of(node.children[1]))

    def t_arith(self, node: Any) -> pl.Expr:
        operator = str(node.children[1])
        if operator not in _ARITH:
            raise _Unsupported(operator)
        return _ARITH[operator](self.expr(node.children[0]), self.expr(node.children[2]))

    def t_neg(self, node: Any) -> pl.Expr:
        return -self.expr(node.children[-1])

    def t_compare(self, node: Any) -> pl.Expr:
        symbol = str(node.children[1].children[0])
        return _COMPARE[symbol](self.expr(node.children[0]), self.expr(node.children[2]))

    def t_between(self, node: Any) -> pl.Expr:
        value, low, high = (self.expr(c) for c in node.children)
        return (value >= low) & (value <= high)

    def t_and_(self, node: Any) -> pl.Expr:
        return self.expr(node.children[0]) & self.expr(node.children[1])

    def t_or_(self, node: Any) -> pl.Expr:
        return self.expr(node.children[0]) | self.expr(node.children[1])

    def t_if_expr(self, node: Any) -> pl.Expr:
        condition, then, otherwise = (self.expr(c) for c in node.children)
        return pl.when(condition).then(then).otherwise(otherwise)

    def t_call(self, node: Any) -> pl.Expr:
        callee, args = node.children[0], (node.children[1] if len(node.children) > 1 else None)
        if (
            not (isinstance(callee, Tree) and callee.data == "name")
            or args is None
            or args.data != "positional"
        ):
            raise _Unsupported("call")
        function = _FUNCTIONS.get(name_of(callee))
        if function is None:
            raise _Unsupported(name_of(callee))
        nodes = list(args.children)
        return function([self.expr(a) for a in nodes], nodes)


def _python_value(value: Any) -> Any:
    """A FEEL value as a Polars cell: numbers as int/float, durations and ranges as FEEL strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, YearsMonthsDuration | DaysTimeDuration):
        return to_string(value)
    if isinstance(value, list):
        return [_python_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _python_value(v) for k, v in value.items()}
    if value is None or isinstance(value, str | bool | int | float | dt.date | dt.time):
        return value
    return to_string(value)


class BatchExpression:
    """A FEEL expression evaluated over a whole frame; see :func:`compile_batch`."""

    def __init__(self, text: str, expression: Expression, polars: pl.Expr | None) -> None:
        self.text = text
        self.expression = expression
        self._polars = polars

    def to_polars(self) -> pl.Expr | None:
        """The equivalent Polars expression, or None when the expression needs the row-wise path."""
        return self._polars

    def evaluate_rows(self, df: pl.DataFrame, *, warnings: list[str] | None = None) -> pl.Series:
        """The compiled closure on each row (``to_feel`` on the row first)."""
        values = [
            _python_value(self.expression.evaluate(to_feel(row), warnings=warnings))
            for row in df.iter_rows(named=True)
        ]
        return pl.Series("result", values, strict=False)

    def evaluate_frame(self, df: pl.DataFrame, *, warnings: list[str] | None = None) -> pl.Series:
        """One value per row: vectorised when possible, row-wise when Polars cannot express it or fails."""
        if self._polars is not None:
            try:
                return df.select(self._polars.alias("result")).to_series()
            except pl.exceptions.PolarsError:
                pass  # e.g. "a" + 1: FEEL says null per row, Polars refuses the whole column
        return self.evaluate_rows(df, warnings=warnings)


def compile_batch(text: str, *, names: Iterable[str] = ()) -> BatchExpression:
    """Compile ``text`` for frames: column names are FEEL names, struct columns are contexts.

    >>> import polars as pl
    >>> compile_batch('upper case(name) + "!"').evaluate_frame(pl.DataFrame({"name": ["ada"]})).to_list()
    ['ADA!']
    """
    names = list(names)
    expression = compile_expression(text, names=names)
    tree: Tree[Token] = parse(text, names)
    try:
        polars: pl.Expr | None = _Translator().expr(tree)
    except _Unsupported:
        polars = None
    return BatchExpression(text, expression, polars)
