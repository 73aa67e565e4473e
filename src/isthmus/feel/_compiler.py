"""Compile a FEEL parse tree into nested Python closures (no ``eval``/``exec`` of any text).

Every node becomes a function of the scope; the tree is walked once, at compile time. Constant operands
are folded into the closure and numbers and strings take a fast path that skips the kind dispatch.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lark import Token, Tree

from isthmus.feel._errors import FeelSyntaxError
from isthmus.feel._fast import fused_arith, fused_builtin_call, fused_chain, fused_name_compare
from isthmus.feel._functions import BUILTINS, invoke
from isthmus.feel._loops import compile_for, compile_quantified, filter_list
from isthmus.feel._operators import OPERATORS, negate
from isthmus.feel._runtime import warn
from isthmus.feel._scope import MISSING, Fn, Frame
from isthmus.feel._semantics import in_range, match_value, path
from isthmus.feel._temporal import parse_date, parse_date_time, parse_duration, parse_time
from isthmus.feel._typecheck import TypeTable, conforms, type_check
from isthmus.feel._types import Equals, FeelFunction, NotEqual, Range
from isthmus.feel._values import compare, equal, normalize

#: a Lark tree node; its children are nodes or tokens, checked by the grammar rather than by types
Node = Any
_CONVERT = frozenset({int, float, tuple})
_FAST = frozenset({Decimal, str})
_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
#: higher-order built-ins call FEEL functions, so they need the evaluation limits
_HIGHER_ORDER = frozenset({"sort"})


def _slow_order(symbol: str) -> Callable[[Any, Any], bool | None]:
    tests: dict[str, Callable[[int], bool]] = {
        "<": lambda c: c < 0,
        "<=": lambda c: c <= 0,
        ">": lambda c: c > 0,
        ">=": lambda c: c >= 0,
    }
    test = tests[symbol]

    def slow(a: Any, b: Any) -> bool | None:
        side = compare(a, b)
        if side is None:
            if a is not None and b is not None:
                warn(f"cannot compare {type(a).__name__} {symbol} {type(b).__name__}")
            return None
        return test(side)

    return slow


def _not_equal(a: Any, b: Any) -> bool | None:
    same = equal(a, b)
    return None if same is None else not same


def comparison(symbol: str) -> Callable[[Any, Any], bool | None]:
    """The FEEL semantics of ``=``, ``!=``, ``<`` … as a function of two values."""
    if symbol == "=":
        return equal
    if symbol == "!=":
        return _not_equal
    fast, slow = _ORDER[symbol], _slow_order(symbol)

    def compare_values(a: Any, b: Any) -> bool | None:
        if a.__class__ is b.__class__ and a.__class__ in _FAST:
            return bool(fast(a, b))
        return slow(a, b)

    return compare_values


def _constant(value: Any) -> Fn:
    return lambda env: value


def _literal_temporal(token: Token) -> Any:
    text = str(token)
    for parser in (parse_date_time if "T" in text else parse_date, parse_time, parse_duration):
        value = parser(text)
        if value is not None:
            return value
    raise FeelSyntaxError(
        f"invalid temporal literal @{text!r}", line=token.line or 1, column=token.column or 1
    )


def name_of(node: Node | Token) -> str:
    if isinstance(node, Token):
        return str(node)
    return " ".join(str(t) for t in node.children)


class Compiler:
    """Turns one parse tree into a closure; records whether evaluation needs limits (``simple``)."""

    def __init__(self, types: TypeTable | None = None) -> None:
        self.types = types
        #: closures that only read a name or a path (``order.customer.id``): their segments
        self.chains: dict[Fn, tuple[str, ...]] = {}
        #: names referenced while compiling each enclosing context literal
        self.referenced: list[set[str]] = []
        #: every name the text reads (a superset of the caller's variables it can see)
        self.names: set[str] = set()
        self.simple = True
        self.uses_input = False
        self.constants: dict[Fn, Any] = {}

    def compile(self, node: Any) -> Fn:
        method: Callable[[Node], Fn] = getattr(self, "c_" + str(node.data))
        return method(node)

    def const(self, value: Any) -> Fn:
        fn = _constant(value)
        self.constants[fn] = value
        return fn

    # -- literals and names -------------------------------------------------------------------------
    def c_start(self, node: Node) -> Fn:
        return self.compile(node.children[0])

    def c_number(self, node: Node) -> Fn:
        return self.const(Decimal(str(node.children[0])))

    def c_string(self, node: Node) -> Fn:
        return self.const(str(node.children[0]))

    def c_true(self, node: Node) -> Fn:
        return self.const(True)

    def c_false(self, node: Node) -> Fn:
        return self.const(False)

    def c_null(self, node: Node) -> Fn:
        return self.const(None)

    def c_temporal(self, node: Node) -> Fn:
        return self.const(_literal_temporal(node.children[0]))

    def c_name(self, node: Node) -> Fn:
        name = name_of(node)
        if name == "?":
            self.uses_input = True
        fallback = BUILTINS.get(name, MISSING)
        self.names.add(name)
        for used in self.referenced:
            used.add(name)

        def ref(env: Any) -> Any:
            value = env.get(name, MISSING)
            if value is MISSING:
                if fallback is MISSING:
                    warn(f"unknown name {name!r}")
                    return None
                return fallback
            if value.__class__ in _CONVERT:
                return normalize(value)
            return value

        self.chains[ref] = (name,)
        return ref

    # -- operators ----------------------------------------------------------------------------------
    def c_arith(self, node: Node) -> Fn:
        left, op, right = (
            self.compile(node.children[0]),
            str(node.children[1]),
            self.compile(node.children[2]),
        )
        apply = OPERATORS[op]
        if op == "+":

            def plus(env: Any) -> Any:
                a, b = left(env), right(env)
                if a.__class__ is b.__class__ and a.__class__ is str:
                    return a + b if len(a) + len(b) <= 1_000_000 else apply(a, b)
                return apply(a, b)

            return plus
        return fused_arith(op, left, right, apply)

    def c_neg(self, node: Node) -> Fn:
        operand = self.compile(node.children[-1])
        if operand in self.constants and isinstance(self.constants[operand], Decimal):
            return self.const(-self.constants[operand])
        return lambda env: negate(operand(env))

    def c_compare(self, node: Node) -> Fn:
        symbol = str(node.children[1].children[0])
        left, right = self.compile(node.children[0]), self.compile(node.children[2])
        test = comparison(symbol)
        if left in self.chains and len(self.chains[left]) == 1 and right in self.constants:
            fused = fused_name_compare(self.chains[left][0], symbol, self.constants[right], left)
            if fused is not None:
                return fused
        if right in self.constants and self.constants[right].__class__ in _FAST and symbol in _ORDER:
            return _compare_constant(left, self.constants[right], symbol, test)
        if right in self.constants and symbol == "=" and self.constants[right].__class__ in _FAST:
            value = self.constants[right]
            cls = value.__class__

            def equals_constant(env: Any) -> Any:
                a = left(env)
                return a == value if a.__class__ is cls else equal(a, value)

            return equals_constant
        return lambda env: test(left(env), right(env))

    def c_between(self, node: Node) -> Fn:
        value, low, high = (self.compile(c) for c in node.children)

        def between(env: Any) -> Any:
            v = value(env)
            return _and(comparison(">=")(v, low(env)), comparison("<=")(v, high(env)))

        return between

    def c_unary_cmp(self, node: Node) -> Fn:
        symbol = str(node.children[0].children[0])
        operand = self.compile(node.children[1])
        build: Callable[[Any], Any] = {
            "<": lambda v: Range(None, v, False, False),
            "<=": lambda v: Range(None, v, False, True),
            ">": lambda v: Range(v, None, False, False),
            ">=": lambda v: Range(v, None, True, False),
            "=": Equals,
            "!=": NotEqual,
        }[symbol]
        return lambda env: build(operand(env))

    def c_in_(self, node: Node) -> Fn:
        value, tests = self.compile(node.children[0]), self.compile(node.children[1])
        return lambda env: match_value(value(env), tests(env))

    def c_test_list(self, node: Node) -> Fn:
        items = [self.compile(c) for c in node.children]
        return lambda env: [_as_test(item(env)) for item in items]

    def c_instance_of(self, node: Node) -> Fn:
        value = self.compile(node.children[0])
        check = type_check(str(node.children[1]), self.types)
        return lambda env: check(value(env))

    def c_and_(self, node: Node) -> Fn:
        left, right = self.compile(node.children[0]), self.compile(node.children[1])

        def conjunction(env: Any) -> Any:
            a = left(env)
            if a is False:
                return False
            b = right(env)
            if b is False:
                return False
            return True if a is True and b is True else None

        return conjunction

    def c_or_(self, node: Node) -> Fn:
        left, right = self.compile(node.children[0]), self.compile(node.children[1])

        def disjunction(env: Any) -> Any:
            a = left(env)
            if a is True:
                return True
            b = right(env)
            if b is True:
                return True
            return False if a is False and b is False else None

        return disjunction

    def c_if_expr(self, node: Node) -> Fn:
        condition, then, otherwise = (self.compile(c) for c in node.children)
        return lambda env: then(env) if condition(env) is True else otherwise(env)

    # -- structures ---------------------------------------------------------------------------------
    def c_list(self, node: Node) -> Fn:
        items = [self.compile(c) for c in node.children]
        return lambda env: [item(env) for item in items]

    def c_context(self, node: Node) -> Fn:
        self.referenced.append(set())
        entries = [(_entry_key(e.children[0]), self.compile(e.children[1])) for e in node.children]
        used = self.referenced.pop()
        keys = [k for k, _ in entries]
        duplicate = len(set(keys)) != len(keys)
        if not duplicate and not used & set(keys):
            return _flat_context(entries)

        def context(env: Any) -> Any:
            if duplicate:
                warn("duplicate context entry keys")
                return None
            result: dict[str, Any] = {}
            scope = Frame(result, env)
            for key, value in entries:
                result[key] = value(scope)
            return result

        return context

    def c_range(self, node: Node) -> Fn:
        opener, start_node, end_node, closer = node.children
        start, end = self.compile(start_node), self.compile(end_node)
        start_in = str(opener) == "["
        end_in = str(closer.children[0]) == "]"

        def make_range(env: Any) -> Any:
            low, high = start(env), end(env)
            order = compare(low, high)
            if order is None or order > 0:
                # null, incomparable or descending endpoints make no range (TCK 0072, 0084, 1156)
                warn("range endpoints must be two ascending values of one kind")
                return None
            return Range(low, high, start_in, end_in)

        return make_range

    def c_path(self, node: Node) -> Fn:
        base, name = self.compile(node.children[0]), name_of(node.children[1])

        def slow(env: Any) -> Any:
            return path(base(env), name)

        if base not in self.chains:
            return slow
        segments = (*self.chains[base], name)
        fused = fused_chain(segments, slow)
        self.chains[fused] = segments
        return fused

    def c_filter(self, node: Node) -> Fn:
        self.simple = False
        base, condition = self.compile(node.children[0]), self.compile(node.children[1])
        return lambda env: filter_list(base(env), condition, env)

    def c_call(self, node: Node) -> Fn:
        callee_node = node.children[0]
        if (
            not (isinstance(callee_node, Tree) and callee_node.data == "name")
            or name_of(callee_node) not in BUILTINS
            or name_of(callee_node) in _HIGHER_ORDER
        ):
            self.simple = False
        callee = self.compile(callee_node)
        args = node.children[1] if len(node.children) > 1 else None
        if args is None:
            return lambda env: invoke(callee(env), [])
        if args.data == "named":
            named = [(name_of(a.children[0]), self.compile(a.children[1])) for a in args.children]
            return lambda env: invoke(callee(env), [], {k: f(env) for k, f in named})
        positional = [self.compile(a) for a in args.children]
        general: Fn = lambda env: invoke(callee(env), [f(env) for f in positional])  # noqa: E731
        if self.chains.get(callee, ("",))[0] in BUILTINS and len(self.chains[callee]) == 1:
            return fused_builtin_call(BUILTINS[self.chains[callee][0]], positional, general)
        return general

    def c_function_def(self, node: Node) -> Fn:
        self.simple = False
        params = [c for c in node.children if isinstance(c, Tree) and c.data == "param"]
        names = [name_of(p.children[0]) for p in params]
        types = [str(p.children[1]) if len(p.children) > 1 else None for p in params]
        if any(isinstance(c, Token) and c.type == "EXTERNAL" for c in node.children):
            return lambda env: FeelFunction(names, _external, "external")
        body = self.compile(node.children[-1])
        typed = types if any(types) else None

        def define(env: Any) -> FeelFunction:
            def call(*args: Any) -> Any:
                if typed and not all(conforms(a, t) for a, t in zip(args, typed, strict=False)):
                    warn("argument does not conform to the parameter type")
                    return None
                return body(Frame(dict(zip(names, args, strict=False)), env))

            return FeelFunction(names, call, "", typed)

        return define

    def c_for_expr(self, node: Node) -> Fn:
        self.simple = False
        iterations = [self._iteration(c) for c in node.children[:-1]]
        return compile_for(iterations, self.compile(node.children[-1]))

    def c_quantified(self, node: Node) -> Fn:
        self.simple = False
        every = str(node.children[0]) == "every"
        bindings = [self._iteration(c) for c in node.children[1:-1]]
        return compile_quantified(every, bindings, self.compile(node.children[-1]))

    def _iteration(self, node: Node) -> tuple[str, Fn, Fn | None]:
        name = name_of(node.children[0])
        start = self.compile(node.children[1])
        end = self.compile(node.children[2]) if len(node.children) > 2 else None
        return name, start, end


def _compare_constant(left: Fn, value: Any, symbol: str, test: Callable[[Any, Any], Any]) -> Fn:
    fast, cls = _ORDER[symbol], value.__class__

    def compare_constant(env: Any) -> Any:
        a = left(env)
        return fast(a, value) if a.__class__ is cls else test(a, value)

    return compare_constant


def _flat_context(entries: list[tuple[str, Fn]]) -> Fn:
    """A context literal whose entries never refer to each other needs no scope of its own."""

    def context(env: Any) -> Any:
        result = {}
        for key, value in entries:
            result[key] = value(env)
        return result

    return context


def _and(a: Any, b: Any) -> bool | None:
    if a is False or b is False:
        return False
    return True if a is True and b is True else None


def _as_test(value: Any) -> Any:
    return value


def _entry_key(node: Node | Token) -> str:
    return name_of(node) if isinstance(node, Tree) else str(node)


def _external(*args: Any) -> None:
    warn("external functions are not supported")


def compile_tree(tree: Node) -> tuple[Fn, bool]:
    compiler = Compiler()
    return compiler.compile(tree), compiler.simple


__all__ = ["Compiler", "comparison", "compile_tree", "in_range", "name_of"]
