"""Function values and their invocation (DMN 1.5 §10.3.2.13, §10.3.4 preamble).

Built-ins are :class:`Builtin` values registered by the ``_builtins_*`` modules with :func:`builtin`.
Each lists its signatures with the spec's parameter names, so ``substring(string: "abc", start
position: 2)`` binds by name; a trailing ``?`` marks an optional parameter and ``...`` varargs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from isthmus.feel._runtime import CURRENT, LimitExceeded, warn
from isthmus.feel._types import FeelFunction

BUILTINS: dict[str, Builtin] = {}


class _Absent:
    """An optional argument that was not given, as opposed to an explicit null."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class FeelTypeError(Exception):
    """A built-in got an argument of the wrong kind: the invocation is null with a warning."""


@dataclass(frozen=True, slots=True, eq=False)
class Builtin(FeelFunction):
    """A built-in function; ``signatures`` are the parameter-name lists it accepts."""

    signatures: tuple[tuple[str, ...], ...] = ()


def builtin(name: str, *signatures: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a built-in; each signature is ``"string, start position, length?"``-style text."""

    def register(body: Callable[..., Any]) -> Callable[..., Any]:
        parsed = tuple(tuple(p.strip() for p in s.split(",") if p.strip()) for s in signatures)
        params = parsed[0] if parsed else ()
        BUILTINS[name] = Builtin(tuple(p.rstrip("?") for p in params), body, name, None, parsed)
        return body

    return register


def _bind_signature(signature: Sequence[str], named: Mapping[str, Any]) -> list[Any] | None:
    names = [p.rstrip("?") for p in signature if p != "..."]
    if not set(named) <= set(names):
        return None
    required = [p for p in signature if not p.endswith("?") and p != "..."]
    last = max([names.index(n) for n in named] + [names.index(r) for r in required], default=-1)
    return [named.get(n) for n in names[: last + 1]]


def bind_named(function: FeelFunction, named: Mapping[str, Any]) -> list[Any] | None:
    """Positional arguments for a named invocation, or None when the names do not fit."""
    if isinstance(function, Builtin):
        for signature in function.signatures:
            bound = _bind_signature(signature, named)
            if bound is not None:
                return bound
        return None
    params = list(function.params)
    if not set(named) <= set(params):
        return None
    return [named.get(p) for p in params]


def invoke(function: Any, args: Sequence[Any], named: Mapping[str, Any] | None = None) -> Any:
    """Call a FEEL function value; every failure is null plus a warning, limits abort."""
    if not isinstance(function, FeelFunction):
        if function is not None:
            warn(f"{type(function).__name__} value is not a function")
        return None
    if named is not None:
        bound = bind_named(function, named)
        if bound is None:
            warn(f"{function.name or 'function'}: no parameters named {', '.join(named)}")
            return None
        args = bound
    elif not isinstance(function, Builtin):
        fitted = _fit(function, args)
        if fitted is None:
            return None
        args = fitted
    return _call(function, args)


def _fit(function: FeelFunction, args: Sequence[Any]) -> Sequence[Any] | None:
    params = function.params
    if len(args) > len(params):
        warn(f"{function.name or 'function'} takes {len(params)} arguments, got {len(args)}")
        return None
    if len(args) < len(params):
        return [*args, *([None] * (len(params) - len(args)))]
    return args


def _call(function: FeelFunction, args: Sequence[Any]) -> Any:
    run = CURRENT.get()
    if run is not None:
        run.depth += 1
        if run.depth > run.limits.max_depth:
            raise LimitExceeded(f"function calls nested deeper than {run.limits.max_depth}")
        run.tick()
    try:
        return function.body(*args)
    except (LimitExceeded, RecursionError):
        raise
    except FeelTypeError as error:
        warn(f"{function.name}: {error}")
    except Exception as error:  # a FEEL invocation never raises (DMN 1.5 §10.3.2.11)
        warn(f"{function.name or 'function'}: {type(error).__name__}: {error}")
    finally:
        if run is not None:
            run.depth -= 1
    return None
