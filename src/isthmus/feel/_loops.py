"""Iteration: ``for … return``, ``some/every … satisfies`` and filters (DMN 1.5 §10.3.2.14–15, Table 60)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from isthmus.feel._runtime import CURRENT, DEFAULT_LIMITS, LimitExceeded, warn
from isthmus.feel._scope import Fn, Frame
from isthmus.feel._types import Range

Iteration = tuple[str, Fn, Fn | None]


def _max_size() -> int:
    run = CURRENT.get()
    return (run.limits if run is not None else DEFAULT_LIMITS).max_size


def _tick() -> None:
    run = CURRENT.get()
    if run is not None:
        run.tick()


def _span(start: Any, end: Any) -> list[Any] | None:
    """The items of ``start..end`` (integers or dates, ascending or descending)."""
    if isinstance(start, Decimal) and isinstance(end, Decimal):
        if start != start.to_integral_value() or end != end.to_integral_value():
            warn("range bounds of a for loop must be integers")
            return None
        low, high = int(start), int(end)
        _guard(abs(high - low) + 1)
        step = 1 if high >= low else -1
        return [Decimal(i) for i in range(low, high + step, step)]
    if type(start) is dt.date and type(end) is dt.date:
        days = (end - start).days
        _guard(abs(days) + 1)
        step = 1 if days >= 0 else -1
        return [start + dt.timedelta(days=i) for i in range(0, days + step, step)]
    warn("for loop range bounds must be two integers or two dates")
    return None


def _guard(count: int) -> None:
    if count > _max_size():
        raise LimitExceeded(f"loop over {count} items exceeds the size limit")


def _domain(iteration: Iteration, scope: Any) -> list[Any] | None:
    _, start, end = iteration
    first = start(scope)
    if end is not None:
        return _span(first, end(scope))
    if first is None or isinstance(first, Range):
        return None  # a range value is no iteration domain (TCK 0084 decision_019_a…025)
    return first if isinstance(first, list) else [first]


def _bindings(iterations: list[Iteration], scope: Any, names: dict[str, Any]) -> Iterator[Frame]:
    """Every combination of the iteration contexts; later domains may use earlier variables."""
    if len(names) == len(iterations):
        yield Frame(dict(names), scope)
        return
    iteration = iterations[len(names)]
    domain = _domain(iteration, Frame(dict(names), scope) if names else scope)
    if domain is None:
        raise _NullDomain
    for item in domain:
        _tick()
        names[iteration[0]] = item
        yield from _bindings(iterations, scope, names)
    names.pop(iteration[0], None)


class _NullDomain(Exception):
    """An iteration context is null: the whole loop is null."""


def compile_for(iterations: list[Iteration], body: Fn) -> Fn:
    def loop(env: Any) -> Any:
        results: list[Any] = []
        limit = _max_size()
        try:
            for frame in _bindings(iterations, env, {}):
                frame.vars["partial"] = results
                results.append(body(frame))
                if len(results) > limit:
                    raise LimitExceeded(f"loop result longer than {limit} items")
        except _NullDomain:
            warn("for loop over null")
            return None
        return results

    return loop


def compile_quantified(every: bool, bindings: list[Iteration], condition: Fn) -> Fn:
    def quantified(env: Any) -> Any:
        try:
            for frame in _bindings(bindings, env, {}):
                satisfied = condition(frame) is True
                if satisfied != every:
                    return satisfied
        except _NullDomain:
            warn("quantified expression over null")
            return None
        return every

    return quantified


def _index(items: list[Any], position: Decimal) -> Any:
    if position != position.to_integral_value():
        warn("list index must be an integer")
        return None
    i = int(position)
    if 0 < i <= len(items):
        return items[i - 1]
    if i < 0 and -i <= len(items):
        return items[i]
    return None


def filter_list(value: Any, condition: Fn, env: Any) -> Any:
    """``value[condition]``: an index when the condition is a number, else the items it holds for."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    kept: list[Any] = []
    for position, item in enumerate(items):
        _tick()
        scope = Frame({"item": item}, env)
        if item.__class__ is dict:
            scope = Frame(item, scope)
        outcome = condition(scope)
        if position == 0 and outcome.__class__ in (Decimal, int):
            return _index(items, Decimal(outcome))
        if outcome is True:
            kept.append(item)
    if not items:
        return _empty_filter(condition, env)
    return kept


def _empty_filter(condition: Fn, env: Any) -> Any:
    outcome = condition(Frame({"item": None}, env))
    return None if outcome.__class__ is Decimal else []
