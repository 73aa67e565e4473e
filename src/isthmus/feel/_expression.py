"""Compiled expressions and unary tests: the objects the rest of Isthmus evaluates."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from lark import Token, Tree

from isthmus.feel import _builtins  # noqa: F401  (registers the built-in functions)
from isthmus.feel._compiler import Compiler, comparison, name_of
from isthmus.feel._parser import parse
from isthmus.feel._runtime import CURRENT, DEFAULT_LIMITS, EvaluationLimits, LimitExceeded, Run, warn
from isthmus.feel._scope import Fn, Frame
from isthmus.feel._semantics import in_range, match_value
from isthmus.feel._typecheck import TypeTable
from isthmus.feel._types import Range
from isthmus.feel._values import equal

Test = Callable[[Any, Any], Any]


def _warn_failure(error: Exception) -> None:
    """What a failed evaluation reports: FEEL evaluation never raises, it warns and yields null."""
    if isinstance(error, LimitExceeded):
        warn(str(error))
    elif isinstance(error, RecursionError):
        warn("evaluation nested too deeply")
    else:  # a bug in a built-in must not escape
        warn(f"internal error: {type(error).__name__}: {error}")


def _guarded(fn: Callable[[], Any], limits: EvaluationLimits, warnings: list[str] | None, fast: bool) -> Any:
    """Run ``fn`` as one evaluation: limits apply, and nothing but a value ever comes out."""
    if fast and warnings is None and CURRENT.get() is None:
        try:
            return fn()
        except (LimitExceeded, RecursionError, Exception):
            return None
    outer = CURRENT.get()
    token = CURRENT.set(
        Run(limits, warnings if warnings is not None else (outer.warnings if outer else None))
    )
    try:
        return fn()
    except Exception as error:
        _warn_failure(error)
    finally:
        CURRENT.reset(token)
    return None


def _shares_run(warnings: list[str] | None, limits: EvaluationLimits) -> bool:
    run = CURRENT.get()
    return run is not None and warnings is not None and run.warnings is warnings and run.limits is limits


class shared_run:  # noqa: N801 - used like a function: ``with shared_run(warnings):``
    """Open one evaluation for many ``evaluate``/``matches`` calls that report to ``warnings``.

    A caller that evaluates many small texts against one list of warnings (a decision table, cell
    by cell) pays for setting up an evaluation once instead of per text; texts with loops or calls
    of FEEL functions still get a run (deadline, depth) of their own. Results and warnings are the
    same as without it.
    """

    __slots__ = ("_run", "_token")

    def __init__(self, warnings: list[str], limits: EvaluationLimits = DEFAULT_LIMITS) -> None:
        self._run = Run(limits, warnings)
        self._token: contextvars.Token[Run | None] | None = None

    def __enter__(self) -> None:
        self._token = CURRENT.set(self._run)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            CURRENT.reset(self._token)


_NOT_CONSTANT: Any = object()


def _always(input_value: Any, scope: Any) -> bool:
    return True


def _scope(context: Mapping[str, Any]) -> Any:
    return context if context.__class__ is dict else dict(context)


class Expression:
    """A compiled FEEL expression; evaluate it any number of times, from any thread.

    >>> compile_expression("Monthly Salary * 12", names=["Monthly Salary"]).evaluate({"Monthly Salary": 10})
    Decimal('120')
    """

    __slots__ = ("_fn", "_simple", "constant", "is_constant", "limits", "names", "text")

    def __init__(
        self,
        text: str,
        fn: Fn,
        simple: bool,
        limits: EvaluationLimits,
        names: frozenset[str] = frozenset(),
        constant: Any = _NOT_CONSTANT,
    ) -> None:
        self.text = text
        self._fn = fn
        self._simple = simple
        self.limits = limits
        #: every name the text reads: a caller may pass a context holding only these
        self.names = names
        #: whether the text is a literal (``"director"``, ``false``, ``12``): then ``constant`` is its value
        self.is_constant = constant is not _NOT_CONSTANT
        self.constant = constant if self.is_constant else None

    def in_shared_run(self) -> Callable[[dict[str, Any]], Any] | None:
        """``evaluate(scope, warnings=w)`` for a caller inside an open :class:`shared_run` on ``w``
        with this expression's limits, passing a ``dict``: the compiled closure with the shared run's
        failure handling and none of the per-call checks. None when the text needs a run of its own
        (loops, calls of FEEL functions): the caller then uses :meth:`evaluate`."""
        if not self._simple:
            return None
        fn = self._fn

        def run(scope: dict[str, Any]) -> Any:
            try:
                return fn(scope)
            except Exception as error:
                _warn_failure(error)
            return None

        return run

    def evaluate(self, context: Mapping[str, Any], *, warnings: list[str] | None = None) -> Any:
        """The value in ``context``; a runtime error is null with a message appended to ``warnings``."""
        fn = self._fn
        scope = context if context.__class__ is dict else dict(context)
        if self._simple and warnings is None:
            # no loops, calls or function definitions: nothing to bound, nobody listening for warnings
            try:
                return fn(scope)
            except Exception:
                return None
        if self._simple and _shares_run(warnings, self.limits):
            try:  # _guarded's failure handling without a new run: the per-cell path of DMN tables
                return fn(scope)
            except Exception as error:
                _warn_failure(error)
            return None
        return _guarded(lambda: fn(scope), self.limits, warnings, False)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def compile_expression(
    text: str,
    *,
    names: Iterable[str] = (),
    types: TypeTable | None = None,
    limits: EvaluationLimits = DEFAULT_LIMITS,
) -> Expression:
    """Compile FEEL ``text`` once; ``names`` are in-scope names that may hold spaces or operators.

    ``types`` maps user type names (DMN item definitions) for ``instance of`` to a FEEL type text
    (``{"tNumberList": "list<number>"}``) or a predicate. Raises :class:`FeelSyntaxError` when the text
    does not parse.
    """
    tree = parse(text, names)
    compiler = Compiler(types)
    fn = _compile_guarded(compiler, tree, text)
    constant = compiler.constants.get(fn, _NOT_CONSTANT)
    return Expression(text, fn, compiler.simple, limits, frozenset(compiler.names), constant)


def _compile_guarded(compiler: Compiler, tree: Tree[Token], text: str) -> Fn:
    from isthmus.feel._errors import FeelSyntaxError

    try:
        return compiler.compile(tree)
    except RecursionError:
        raise FeelSyntaxError("expression nested too deeply", line=1, column=1) from None


class UnaryTests:
    """Compiled unary tests (a decision-table input entry): ``< 10``, ``[1..5], "a"``, ``not(0)``, ``-``.

    >>> compile_unary_tests("< 10, > 100").matches(Decimal(5), {})
    True
    """

    __slots__ = ("_negated", "_simple", "_tests", "limits", "text")

    def __init__(
        self, text: str, tests: list[Test] | None, negated: bool, simple: bool, limits: EvaluationLimits
    ) -> None:
        self.text = text
        self._tests = tests
        self._negated = negated
        self._simple = simple
        self.limits = limits

    def matches(
        self, input_value: Any, context: Mapping[str, Any], *, warnings: list[str] | None = None
    ) -> bool:
        """Whether ``input_value`` satisfies the tests; a test that yields null does not match."""
        tests = self._tests
        if tests is None:
            return True
        scope = context if context.__class__ is dict else dict(context)
        if self._simple and warnings is None:
            try:
                for test in tests:
                    if test(input_value, scope) is True:
                        return not self._negated
            except Exception:
                return False
            return self._negated

        def run() -> bool:
            for test in tests:
                if test(input_value, scope) is True:
                    return not self._negated
            return self._negated

        if self._simple and _shares_run(warnings, self.limits):
            return self._in_shared_run(tests, input_value, scope)
        return _guarded(run, self.limits, warnings, False) is True

    def in_shared_run(self) -> Callable[[Any, dict[str, Any]], bool] | None:
        """``matches(value, scope, warnings=w)`` for a caller inside an open :class:`shared_run` on
        ``w`` with these tests' limits, passing a ``dict``; None when the tests need a run of their
        own (see :meth:`Expression.in_shared_run`)."""
        tests = self._tests
        if tests is None:
            return _always
        if not self._simple:
            return None
        negated = self._negated
        if len(tests) == 1:
            (test,) = tests

            def one(input_value: Any, scope: dict[str, Any]) -> bool:
                try:
                    if test(input_value, scope) is True:
                        return not negated
                    return negated
                except Exception as error:
                    _warn_failure(error)
                return False

            return one

        def many(input_value: Any, scope: dict[str, Any]) -> bool:
            try:
                for test in tests:
                    if test(input_value, scope) is True:
                        return not negated
                return negated
            except Exception as error:
                _warn_failure(error)
            return False

        return many

    def _in_shared_run(self, tests: list[Test], input_value: Any, scope: Any) -> bool:
        """The tests inside an open :class:`shared_run`, with :func:`_guarded`'s failure handling."""
        try:
            for test in tests:
                if test(input_value, scope) is True:
                    return not self._negated
            return self._negated
        except Exception as error:
            _warn_failure(error)
        return False

    def __repr__(self) -> str:
        return f"UnaryTests({self.text!r})"


def compile_unary_tests(
    text: str,
    *,
    names: Iterable[str] = (),
    types: TypeTable | None = None,
    limits: EvaluationLimits = DEFAULT_LIMITS,
) -> UnaryTests:
    """Compile the unary tests of a decision-table cell; ``-`` (or an empty cell) matches anything."""
    stripped = text.strip()
    if stripped in ("-", ""):
        return UnaryTests(text, None, False, True, limits)
    tree = parse(text, names, start="tests")
    items: list[Any] = list(tree.children)
    negated = False
    if len(items) == 1 and _is_not_call(items[0]):
        negated = True
        items = list(items[0].children[1].children)
    compiler = Compiler(types)
    try:
        tests = [_compile_test(compiler, item) for item in items]
    except RecursionError:
        from isthmus.feel._errors import FeelSyntaxError

        raise FeelSyntaxError("unary tests nested too deeply", line=1, column=1) from None
    return UnaryTests(text, tests, negated, compiler.simple, limits)


def _is_not_call(node: Any) -> bool:
    return (
        isinstance(node, Tree)
        and node.data == "call"
        and isinstance(node.children[0], Tree)
        and node.children[0].data == "name"
        and name_of(node.children[0]) == "not"
        and len(node.children) > 1
        and node.children[1].data == "positional"
    )


def _compile_test(compiler: Compiler, node: Tree[Token]) -> Test:
    if node.data == "unary_cmp":
        symbol = str(node.children[0].children[0])  # type: ignore[union-attr]
        operand = compiler.compile(node.children[1])
        return _comparison_test(symbol, operand, compiler.constants.get(operand))
    if node.data == "range":
        return _range_test(compiler, node)
    before = compiler.uses_input
    compiler.uses_input = False
    fn = compiler.compile(node)
    uses_input, compiler.uses_input = compiler.uses_input, before
    if fn in compiler.constants:
        constant = compiler.constants[fn]
        if constant.__class__ in (Decimal, str):
            cls = constant.__class__
            return lambda value, env: (
                value == constant if value.__class__ is cls else match_value(value, constant)
            )
        return lambda value, env: match_value(value, constant)
    if uses_input:
        return lambda value, env: _input_test(value, fn(Frame({"?": value}, env)))
    return lambda value, env: _plain_test(value, fn(env))


def _range_test(compiler: Compiler, node: Tree[Token]) -> Test:
    """``[a..b)``: with literal number or string endpoints, two comparisons and no Range object."""
    make = compiler.compile(node)
    start, end = (compiler.compile(c) for c in node.children[1:3])
    low, high = compiler.constants.get(start), compiler.constants.get(end)
    if (
        low is None
        or high is None
        or low.__class__ is not high.__class__
        or low.__class__ not in (Decimal, str)
    ):
        return lambda value, env: _in_made_range(value, make(env))
    cls, ascending = low.__class__, low <= high
    start_in, end_in = str(node.children[0]) == "[", str(node.children[3].children[0]) == "]"  # type: ignore[union-attr]

    def in_literal_range(value: Any, env: Any) -> Any:
        if value.__class__ is not cls:
            return _in_made_range(value, make(env))
        if not ascending:
            return None
        above = low < value or (start_in and value == low)
        return above and (value < high or (end_in and value == high))

    return in_literal_range


def _in_made_range(value: Any, made: Any) -> Any:
    return in_range(value, made) if isinstance(made, Range) else None


def _comparison_test(symbol: str, operand: Fn, constant: Any) -> Test:
    compare = comparison(symbol)
    if constant is not None and constant.__class__ in (Decimal, str) and symbol != "!=":
        cls = constant.__class__
        fast = {"<": lambda a: a < constant, "<=": lambda a: a <= constant, "=": lambda a: a == constant}.get(
            symbol
        )
        fast = fast or {">": lambda a: a > constant, ">=": lambda a: a >= constant}[symbol]
        return lambda value, env: fast(value) if value.__class__ is cls else compare(value, constant)
    return lambda value, env: compare(value, operand(env))


def _input_test(value: Any, outcome: Any) -> Any:
    if isinstance(outcome, bool):
        return outcome
    return match_value(value, outcome)


def _plain_test(value: Any, outcome: Any) -> Any:
    if isinstance(outcome, bool) and not isinstance(value, bool):
        return outcome
    return match_value(value, outcome)


__all__ = ["Expression", "UnaryTests", "compile_expression", "compile_unary_tests", "equal", "shared_run"]
