"""Boxed expressions (DMN 1.5 chapter 7 and §8–§9 for tables): evaluation against a scope.

Each boxed expression kind is one small function; :func:`evaluate_expression` dispatches on the
spec class. A scope is a plain ``dict`` of FEEL names to FEEL values. Contexts grow their scope
entry by entry, so a function defined in a context entry sees the entries after it too (recursion,
as in the spec's examples) because its closure keeps the same ``dict``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from isthmus.feel import FeelFunction

from . import _model as m
from ._feel import Compiler
from ._java import java_method
from ._tables import evaluate_table
from ._types import ResolvedType, TypeSystem


class Evaluator:
    """Evaluation state shared by one run: compiler, types, warnings and matched rules.

    ``namespace`` is the model whose item definitions resolve typeRefs; functions from an imported
    model get an evaluator for their own namespace via :meth:`for_namespace`.
    """

    def __init__(
        self,
        compiler: Compiler,
        types: TypeSystem,
        namespace: str,
        warnings: list[str],
        matched: dict[str, tuple[str, ...]],
    ) -> None:
        self.compiler = compiler
        self.types = types
        self.namespace = namespace
        self.warnings = warnings
        self.matched = matched
        self.current: str = ""

    def for_namespace(self, namespace: str) -> Evaluator:
        if namespace == self.namespace:
            return self
        other = Evaluator(self.compiler, self.types, namespace, self.warnings, self.matched)
        other.current = self.current
        return other

    # -- TableHost ------------------------------------------------------------------------------

    def feel(self, text: str, scope: Mapping[str, Any], names: frozenset[str] | None = None) -> Any:
        return self.compiler.evaluate(text, scope, self.warnings, self.namespace, names)

    def matches(
        self, text: str, value: Any, scope: Mapping[str, Any], names: frozenset[str] | None = None
    ) -> bool:
        return self.compiler.matches(text, value, scope, self.warnings, self.namespace, names)

    def resolve(self, type_ref: str | None) -> ResolvedType:
        return self.types.resolve(type_ref, self.namespace)

    def coerce(self, value: Any, type_ref: str | None, what: str) -> Any:
        if not type_ref:
            return value
        plain = self.types.plain.get((self.namespace, type_ref))  # plain_class(), once looked up
        if plain is None:
            plain = self.types.plain_class(type_ref, self.namespace)
        if value.__class__ is plain:
            return value  # a Decimal declared number, a str declared string …: nothing to check
        return self.types.coerce(value, self.resolve(type_ref), self.warnings, what)

    def conform(self, value: Any, type_ref: str | None) -> tuple[bool, Any]:
        """(True, converted value) when ``value`` conforms to ``type_ref``, else (False, None)."""
        if not type_ref or value is None:
            return True, value
        return self.types.convert(value, self.resolve(type_ref))

    def record_matches(self, rule_ids: Sequence[str]) -> None:
        self.matched[self.current] = tuple(rule_ids)


def evaluate_expression(expression: m.Expression | None, scope: dict[str, Any], ev: Evaluator) -> Any:
    """Evaluate any boxed expression; a missing one is null (DMN 1.5 §6.3.7 "no decision logic")."""
    if expression is None:
        return None
    handler = _HANDLERS[type(expression)]
    value = handler(expression, scope, ev)
    type_ref = expression.type_ref
    if type_ref and not isinstance(expression, m.FunctionDefinition):
        value = ev.coerce(value, type_ref, f"{type(expression).__name__} result")
    return value


def _literal(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    return ev.feel(expr.text, scope)


def _context(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    local = dict(scope)
    result: dict[str, Any] = {}
    for entry in expr.entries:
        value = evaluate_expression(entry.expression, local, ev)
        if entry.name is None:
            return value  # the final-result row
        value = ev.coerce(value, entry.type_ref, f"context entry {entry.name!r}")
        local[entry.name] = value
        result[entry.name] = value
    return result


def _list(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    return [evaluate_expression(item, scope, ev) for item in expr.items]


def _relation(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    return [
        {column: evaluate_expression(cell, scope, ev) for column, cell in zip(expr.columns, row, strict=True)}
        for row in expr.rows
    ]


def call_function(function: Any, named: Mapping[str, Any], ev: Evaluator, what: str) -> Any:
    """Invoke a FEEL function value with named arguments (DMN 1.5 §7.3.6 invocation bindings)."""
    if not isinstance(function, FeelFunction):
        ev.warnings.append(f"{what}: not a function ({function!r}); result is null")
        return None
    unknown = set(named) - set(function.params)
    if unknown:
        ev.warnings.append(f"{what}: unknown parameter(s) {sorted(unknown)}; result is null")
        return None
    try:
        return function.body(*(named.get(p) for p in function.params))
    except Exception as exc:
        ev.warnings.append(f"{what}: {exc}; result is null")
        return None


def _invocation(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    function = evaluate_expression(expr.callee, scope, ev)
    named = {b.name: evaluate_expression(b.expression, scope, ev) for b in expr.bindings}
    callee = expr.callee.text if isinstance(expr.callee, m.LiteralExpression) else "invocation"
    return call_function(function, named, ev, f"invocation of {callee!r}")


def make_function(
    definition: m.FunctionDefinition,
    scope: dict[str, Any],
    ev: Evaluator,
    name: str = "",
    output_type: str | None = None,
) -> FeelFunction:
    """A FEEL function value whose body is a boxed expression evaluated in ``scope`` + parameters."""
    params = definition.parameters
    if definition.kind.upper() != "FEEL":
        return _external(definition, scope, ev, name)

    def body(*args: Any) -> Any:
        local = dict(scope)
        for param, arg in zip(params, args, strict=False):
            ok, value = ev.conform(arg, param.type_ref)
            if not ok:  # DMN 1.5 §10.3.2.9.4: a non-conforming argument makes the invocation null
                ev.warnings.append(
                    f"{name or 'function'}: argument {param.name!r} = {arg!r} does not conform"
                )
                return None
            local[param.name] = value
        value = evaluate_expression(definition.body, local, ev)
        return ev.coerce(value, output_type, f"result of {name or 'function'}")

    return FeelFunction([p.name for p in params], body, name=name)


def _external(
    definition: m.FunctionDefinition, scope: dict[str, Any], ev: Evaluator, name: str
) -> FeelFunction:
    """Java (whitelisted ``java.lang.Math``) or PMML functions; anything else is null with a warning."""
    kind = definition.kind
    method = java_method(evaluate_expression(definition.body, scope, ev)) if kind.upper() == "JAVA" else None

    def body(*args: Any) -> Any:
        if method is None:
            ev.warnings.append(f"{kind} function {name or ''} is not available; result is null")
            return None
        return method(*args)

    return FeelFunction([p.name for p in definition.parameters], body, name=name)


def _function(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    # The closure keeps ``scope`` itself (not a copy): see the module docstring.
    return make_function(expr, scope, ev)


def _conditional(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    condition = evaluate_expression(expr.condition, scope, ev)
    if condition is not None and not isinstance(condition, bool):
        ev.warnings.append(f"conditional: the condition is {condition!r}, not a boolean; result is null")
        return None
    branch = expr.then if condition is True else expr.otherwise
    return evaluate_expression(branch, scope, ev)


def _booleans(results: list[Any], ev: Evaluator, what: str) -> bool:
    """Whether every result is a boolean or null; a string, number … there makes the whole null."""
    if all(r is None or isinstance(r, bool) for r in results):
        return True
    ev.warnings.append(f"{what}: a condition gave a non-boolean value; result is null")
    return False


def _iterable(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if value is None:
        return None
    return [value]  # a single value iterates as a singleton list (DMN 1.5 §10.3.2.9.4)


def _iteration(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    items = _iterable(evaluate_expression(expr.source, scope, ev))
    if items is None:
        return None
    results = [evaluate_expression(expr.body, {**scope, expr.variable: item}, ev) for item in items]
    if expr.kind is m.IterationKind.FOR:
        return results
    if not _booleans(results, ev, expr.kind.value):
        return None
    if expr.kind is m.IterationKind.SOME:
        return (
            True if any(r is True for r in results) else (False if all(r is False for r in results) else None)
        )
    return False if any(r is False for r in results) else (True if all(r is True for r in results) else None)


def _filter(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    items = _iterable(evaluate_expression(expr.source, scope, ev))
    if items is None:
        return None
    matches = []
    for item in items:
        local = {**scope, **item, "item": item} if isinstance(item, dict) else {**scope, "item": item}
        matches.append(evaluate_expression(expr.match, local, ev))
    if not _booleans(matches, ev, "filter"):
        return None
    return [item for item, match in zip(items, matches, strict=True) if match is True]


def _table(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    return evaluate_table(expr, scope, ev)


def _unsupported(expr: Any, scope: dict[str, Any], ev: Evaluator) -> Any:
    ev.warnings.append(f"<{expr.tag}> expressions are not supported; result is null")
    return None


_HANDLERS: dict[type, Callable[[Any, dict[str, Any], Evaluator], Any]] = {
    m.LiteralExpression: _literal,
    m.Context: _context,
    m.ListExpression: _list,
    m.Relation: _relation,
    m.Invocation: _invocation,
    m.FunctionDefinition: _function,
    m.Conditional: _conditional,
    m.Iteration: _iteration,
    m.Filter: _filter,
    m.DecisionTable: _table,
    m.Unsupported: _unsupported,
}
