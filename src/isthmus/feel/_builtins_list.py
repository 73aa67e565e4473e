"""List functions (DMN 1.5 §10.3.4.4): membership, aggregation and restructuring."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from isthmus.feel import _args as a
from isthmus.feel._functions import ABSENT, FeelTypeError, builtin, invoke
from isthmus.feel._runtime import check_size
from isthmus.feel._types import DECIMAL, FeelFunction
from isthmus.feel._values import compare, equal


def _contains(values: list[Any], element: Any) -> bool:
    return any(equal(v, element) is True for v in values)


@builtin("list contains", "list, element")
def list_contains(values: Any, element: Any) -> bool:
    return _contains(a.strict_list(values), element)


@builtin("count", "list")
def count(values: Any) -> Decimal:
    return Decimal(len(a.strict_list(values)))


def _extreme(values: list[Any], sign: int) -> Any:
    if not values:
        return None
    best = values[0]
    for value in values[1:]:
        order = compare(value, best)
        if order is None:
            raise FeelTypeError("list items are not comparable")
        if order == sign:
            best = value
    if compare(best, best) is None:
        raise FeelTypeError("list items are not comparable")
    return best


@builtin("min", "list", "c...")
def min_(*args: Any) -> Any:
    return _extreme(a.varargs(args), -1)


@builtin("max", "list", "c...")
def max_(*args: Any) -> Any:
    return _extreme(a.varargs(args), 1)


def _numbers(args: tuple[Any, ...]) -> list[Decimal]:
    return [a.number(v, "list item") for v in a.varargs(args)]


@builtin("sum", "list", "n...")
def sum_(*args: Any) -> Decimal | None:
    values = _numbers(args)
    if not values:
        return None
    total = Decimal(0)
    for value in values:
        total = DECIMAL.add(total, value)
    return total


@builtin("product", "list", "n...")
def product(*args: Any) -> Decimal | None:
    values = _numbers(args)
    if not values:
        return None
    total = Decimal(1)
    for value in values:
        total = DECIMAL.multiply(total, value)
    return total


@builtin("mean", "list", "n...")
def mean(*args: Any) -> Decimal | None:
    values = _numbers(args)
    if not values:
        return None
    return DECIMAL.divide(sum_(values), Decimal(len(values)))


@builtin("median", "list", "n...")
def median(*args: Any) -> Decimal | None:
    values = sorted(_numbers(args))
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return DECIMAL.divide(DECIMAL.add(values[middle - 1], values[middle]), Decimal(2))


@builtin("stddev", "list", "n...")
def stddev(*args: Any) -> Decimal | None:
    values = _numbers(args)
    if len(values) < 2:
        return None
    average = DECIMAL.divide(sum_(values), Decimal(len(values)))
    squares = sum(DECIMAL.power(v - average, 2) for v in values)
    return DECIMAL.sqrt(DECIMAL.divide(Decimal(squares), Decimal(len(values) - 1)))


@builtin("mode", "list", "n...")
def mode(*args: Any) -> list[Decimal]:
    values = _numbers(args)
    counts: dict[Decimal, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    if not counts:
        return []
    top = max(counts.values())
    return sorted(v for v, n in counts.items() if n == top)


@builtin("all", "list", "b...")
def all_(*args: Any) -> bool | None:
    values = a.varargs(args) if args != ([],) else []
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


@builtin("any", "list", "b...")
def any_(*args: Any) -> bool | None:
    values = a.varargs(args) if args != ([],) else []
    if any(v is True for v in values):
        return True
    return False if all(v is False for v in values) else None


def _position(values: list[Any], position: Any, *, inserting: bool = False) -> int:
    p = a.integer(position, "position")
    size = len(values)
    if 0 < p <= size or (inserting and p == size + 1):
        return p - 1
    if p < 0 and -p <= size:
        return size + p
    raise FeelTypeError(f"position {p} is outside the list")


@builtin("sublist", "list, start position, length?")
def sublist(values: Any, start: Any, length: Any = ABSENT) -> list[Any]:
    items = a.strict_list(values)
    first = _position(items, start)
    if length is ABSENT:
        return items[first:]
    count = a.integer(length, "length")
    if count < 0 or first + count > len(items):
        raise FeelTypeError("length runs past the end of the list")
    return items[first : first + count]


@builtin("append", "list, item...")
def append(values: Any, *extra: Any) -> list[Any]:
    return check_size([*a.strict_list(values), *extra])


@builtin("concatenate", "list...")
def concatenate(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for values in lists:
        out.extend(a.strict_list(values))
    return check_size(out)


@builtin("insert before", "list, position, newItem")
def insert_before(values: Any, position: Any, new_item: Any) -> list[Any]:
    items = list(a.strict_list(values))
    items.insert(_position(items, position), new_item)
    return check_size(items)


@builtin("remove", "list, position")
def remove(values: Any, position: Any) -> list[Any]:
    items = list(a.strict_list(values))
    del items[_position(items, position)]
    return items


@builtin("reverse", "list")
def reverse(values: Any) -> list[Any]:
    return list(reversed(a.strict_list(values)))


@builtin("index of", "list, match")
def index_of(values: Any, match: Any) -> list[Decimal]:
    return [Decimal(i + 1) for i, v in enumerate(a.strict_list(values)) if equal(v, match) is True]


def _distinct(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not _contains(out, value):
            out.append(value)
    return out


@builtin("union", "list...")
def union(*lists: Any) -> list[Any]:
    return _distinct(concatenate(*lists))


@builtin("distinct values", "list")
def distinct_values(values: Any) -> list[Any]:
    return _distinct(a.strict_list(values))


@builtin("duplicate values", "list")
def duplicate_values(values: Any) -> list[Any]:
    items = a.strict_list(values)
    return _distinct([v for i, v in enumerate(items) if _contains(items[:i], v)])


def _flatten(values: list[Any], out: list[Any]) -> list[Any]:
    for value in values:
        if isinstance(value, list):
            _flatten(value, out)
        else:
            out.append(value)
    return out


@builtin("flatten", "list")
def flatten(values: Any) -> list[Any]:
    return check_size(_flatten(a.strict_list(values), []))


def _natural(x: Any, y: Any) -> int:
    order = compare(x, y)
    if order is None:
        raise FeelTypeError("list items are not comparable")
    return order


@builtin("sort", "list, precedes?")
def sort(values: Any, precedes: Any = None) -> list[Any]:
    items = a.strict_list(values)
    if precedes is None:
        return sorted(items, key=functools.cmp_to_key(_natural))
    if not isinstance(precedes, FeelFunction):
        raise FeelTypeError("precedes must be a function")

    def order(x: Any, y: Any) -> int:
        if invoke(precedes, [x, y]) is True:
            return -1
        return 1 if invoke(precedes, [y, x]) is True else 0

    return sorted(items, key=functools.cmp_to_key(order))


def _matched(match: FeelFunction, item: Any, new_item: Any) -> bool:
    outcome = invoke(match, [item, new_item])
    if not isinstance(outcome, bool):
        raise FeelTypeError("the match function must return a boolean")
    return outcome


@builtin("list replace", "list, position, newItem", "list, match, newItem")
def list_replace(values: Any, position: Any, new_item: Any) -> list[Any]:
    items = list(a.strict_list(values))
    if isinstance(position, FeelFunction):
        if len(position.params) != 2:
            raise FeelTypeError("the match function takes two parameters (item, newItem)")
        return [new_item if _matched(position, item, new_item) else item for item in items]
    items[_position(items, position)] = new_item
    return items
