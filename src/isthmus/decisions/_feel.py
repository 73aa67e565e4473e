"""The one door to :mod:`isthmus.feel`: compile each FEEL text once per set of in-scope names.

FEEL names may contain spaces (``Monthly Salary``), so the parser must be told which names are in
scope; the same text in two scopes can therefore parse differently and is cached per scope. A text
that does not parse is reported as a warning and evaluates to null, the way DMN 1.5 §10.3.2.9
treats any other runtime error, so one bad cell cannot take a whole model down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from isthmus.feel import FeelSyntaxError, compile_expression, compile_unary_tests

#: user type name -> predicate, for FEEL ``instance of`` (the shape isthmus.feel accepts)
TypeTable = Mapping[str, Callable[[Any], bool]]


class _Failed:
    """A text that did not compile; evaluating it warns and yields null."""

    def __init__(self, text: str, reason: str) -> None:
        self.message = f"FEEL syntax error in {text!r}: {reason}"


class Compiler:
    """Caches compiled FEEL expressions and unary tests keyed by (text, in-scope names)."""

    def __init__(self) -> None:
        self._expressions: dict[tuple[str, frozenset[str], str], Any] = {}
        self._tests: dict[tuple[str, frozenset[str], str], Any] = {}
        self._types: dict[str, TypeTable] = {}
        #: decision tables compiled per set of scope names (see ``_tables._Plan``)
        self.plans: dict[tuple[int, frozenset[str], str], Any] = {}

    def set_types(self, namespace: str, table: TypeTable) -> None:
        """The item definitions ``instance of`` may name in texts of the model ``namespace``."""
        self._types[namespace] = table

    def expression(self, text: str, names: frozenset[str], namespace: str = "") -> Any:
        """The compiled expression of ``text`` for a scope holding ``names`` (or a failure marker)."""
        key = (text, names, namespace)
        compiled = self._expressions.get(key)
        if compiled is None:
            _bound(self._expressions)
            try:
                compiled = compile_expression(text, names=names, types=self._types.get(namespace))
            except FeelSyntaxError as exc:
                compiled = _Failed(text, str(exc))
            self._expressions[key] = compiled
        return compiled

    def tests(self, text: str, names: frozenset[str], namespace: str = "") -> Any:
        """The compiled unary tests of ``text`` for a scope holding ``names`` (or a failure marker)."""
        key = (text, names, namespace)
        compiled = self._tests.get(key)
        if compiled is None:
            _bound(self._tests)
            try:
                compiled = compile_unary_tests(text, names=names, types=self._types.get(namespace))
            except FeelSyntaxError as exc:
                compiled = _Failed(text, str(exc))
            self._tests[key] = compiled
        return compiled

    def evaluate(
        self,
        text: str,
        scope: Mapping[str, Any],
        warnings: list[str],
        namespace: str = "",
        names: frozenset[str] | None = None,
    ) -> Any:
        """Evaluate FEEL ``text`` against ``scope``; errors become null plus a warning.

        ``names`` is ``scope_names(scope)`` when the caller already has it."""
        compiled = self.expression(text, _names(scope) if names is None else names, namespace)
        return run_expression(compiled, text, scope, warnings)

    def matches(
        self,
        text: str,
        value: Any,
        scope: Mapping[str, Any],
        warnings: list[str],
        namespace: str = "",
        names: frozenset[str] | None = None,
    ) -> bool:
        """Whether ``value`` satisfies the unary tests ``text`` (a decision table cell)."""
        compiled = self.tests(text, _names(scope) if names is None else names, namespace)
        return run_tests(compiled, text, value, scope, warnings)


def run_expression(compiled: Any, text: str, scope: Mapping[str, Any], warnings: list[str]) -> Any:
    """Evaluate what :meth:`Compiler.expression` gave; errors become null plus a warning."""
    if isinstance(compiled, _Failed):
        warnings.append(compiled.message)
        return None
    try:
        return compiled.evaluate(scope, warnings=warnings)
    except Exception as exc:
        warnings.append(f"FEEL error in {text!r}: {exc}")
        return None


def run_tests(compiled: Any, text: str, value: Any, scope: Mapping[str, Any], warnings: list[str]) -> bool:
    """Apply what :meth:`Compiler.tests` gave to ``value``; errors are a warning and no match."""
    if isinstance(compiled, _Failed):
        warnings.append(compiled.message)
        return False
    try:
        return compiled.matches(value, scope, warnings=warnings) is True
    except Exception as exc:
        warnings.append(f"FEEL error in unary tests {text!r}: {exc}")
        return False


_MAX_CACHED = 20_000


def _bound(cache: dict[Any, Any]) -> None:
    """Keep a long-lived engine's cache finite: scopes vary with the (free-form) inputs given."""
    if len(cache) >= _MAX_CACHED:
        cache.clear()


def scope_names(scope: Mapping[str, Any]) -> frozenset[str]:
    """The names FEEL texts evaluated in ``scope`` are parsed with (the compile cache key)."""
    return _names(scope)


def _names(scope: Mapping[str, Any]) -> frozenset[str]:
    names = set(scope)
    for value in scope.values():
        if isinstance(value, dict):
            names.update(_inner_names(value, depth=3))
    return frozenset(names)


def _inner_names(value: Any, *, depth: int) -> Iterable[str]:
    """Entry names of contexts in scope that are not plain identifiers (``a.Monthly Income``).

    FEEL cannot tell ``Monthly Income`` from two names without knowing it, and an imported
    model's decisions (``myimport.Say hello``) reach the scope the same way, as a context.
    """
    if depth == 0 or not isinstance(value, dict):
        return
    for key, inner in value.items():
        if isinstance(key, str):
            if not key.isidentifier():
                yield key
            yield from _inner_names(inner, depth=depth - 1)
