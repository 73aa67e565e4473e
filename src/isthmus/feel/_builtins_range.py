"""Range functions (DMN 1.5 §10.3.4.9): Allen's interval relations on points and ranges.

Each relation has four forms — point/point, point/range, range/point, range/range — chosen by the
kinds of the arguments; the formulas are the spec's, written with :func:`_lt` and :func:`_eq` that
fail (null) when endpoints are not comparable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from isthmus.feel._functions import FeelTypeError, builtin
from isthmus.feel._types import Range
from isthmus.feel._values import compare


def _cmp(x: Any, y: Any) -> int:
    order = compare(x, y)
    if order is None:
        raise FeelTypeError("endpoints are not comparable")
    return order


def _lt(x: Any, y: Any) -> bool:
    return _cmp(x, y) < 0


def _gt(x: Any, y: Any) -> bool:
    return _cmp(x, y) > 0


def _eq(x: Any, y: Any) -> bool:
    return _cmp(x, y) == 0


def _closed(r: Range) -> Range:
    if r.start is None or r.end is None:
        raise FeelTypeError("open-ended ranges are not supported by range functions")
    return r


def _point_range(point: Any, r: Range) -> tuple[Any, Range]:
    if isinstance(point, Range):
        raise FeelTypeError("expected a point")
    return point, _closed(r)


Forms = tuple[Callable[[Any, Any], bool] | None, ...]


def _dispatch(name: str, forms: Forms, a: Any, b: Any) -> bool:
    """forms = (point-point, point-range, range-point, range-range)."""
    if a is None or b is None:
        raise FeelTypeError(f"{name} of null")
    index = (2 if isinstance(a, Range) else 0) + (1 if isinstance(b, Range) else 0)
    form = forms[index]
    if form is None:
        raise FeelTypeError(f"{name} does not accept these arguments")
    return form(_closed(a) if isinstance(a, Range) else a, _closed(b) if isinstance(b, Range) else b)


def _register(name: str, forms: Forms, *signatures: str) -> None:
    builtin(name, *signatures)(lambda x, y: _dispatch(name, forms, x, y))


_register(
    "before",
    (
        _lt,
        lambda p, r: _lt(p, r.start) or (_eq(p, r.start) and not r.start_included),
        lambda r, p: _lt(r.end, p) or (_eq(r.end, p) and not r.end_included),
        lambda r1, r2: (
            _lt(r1.end, r2.start)
            or ((not r1.end_included or not r2.start_included) and _eq(r1.end, r2.start))
        ),
    ),
    "point1, point2",
    "point, range",
    "range, point",
    "range1, range2",
)
_register(
    "after",
    (
        _gt,
        lambda p, r: _gt(p, r.end) or (_eq(p, r.end) and not r.end_included),
        lambda r, p: _gt(r.start, p) or (_eq(r.start, p) and not r.start_included),
        lambda r1, r2: (
            _gt(r1.start, r2.end)
            or ((not r1.start_included or not r2.end_included) and _eq(r1.start, r2.end))
        ),
    ),
    "point1, point2",
    "point, range",
    "range, point",
    "range1, range2",
)
_register(
    "meets",
    (None, None, None, lambda r1, r2: r1.end_included and r2.start_included and _eq(r1.end, r2.start)),
    "range1, range2",
)
_register(
    "met by",
    (None, None, None, lambda r1, r2: r1.start_included and r2.end_included and _eq(r1.start, r2.end)),
    "range1, range2",
)


def _overlaps(r1: Range, r2: Range) -> bool:
    return (_gt(r1.end, r2.start) or (_eq(r1.end, r2.start) and r1.end_included and r2.start_included)) and (
        _lt(r1.start, r2.end) or (_eq(r1.start, r2.end) and r1.start_included and r2.end_included)
    )


def _overlaps_before(r1: Range, r2: Range) -> bool:
    return (
        (_lt(r1.start, r2.start) or (_eq(r1.start, r2.start) and r1.start_included and not r2.start_included))
        and (_gt(r1.end, r2.start) or (_eq(r1.end, r2.start) and r1.end_included and r2.start_included))
        and (_lt(r1.end, r2.end) or (_eq(r1.end, r2.end) and (not r1.end_included or r2.end_included)))
    )


_register("overlaps", (None, None, None, _overlaps), "range1, range2")
_register("overlaps before", (None, None, None, _overlaps_before), "range1, range2")
_register("overlaps after", (None, None, None, lambda r1, r2: _overlaps_before(r2, r1)), "range1, range2")


def _finishes(r1: Range, r2: Range) -> bool:
    return (
        r1.end_included == r2.end_included
        and _eq(r1.end, r2.end)
        and (
            _gt(r1.start, r2.start)
            or (_eq(r1.start, r2.start) and (not r1.start_included or r2.start_included))
        )
    )


def _includes_point(r: Range, p: Any) -> bool:
    return (
        (_lt(r.start, p) and _gt(r.end, p))
        or (_eq(r.start, p) and r.start_included)
        or (_eq(r.end, p) and r.end_included)
    )


def _includes(r1: Range, r2: Range) -> bool:
    return (
        _lt(r1.start, r2.start) or (_eq(r1.start, r2.start) and (r1.start_included or not r2.start_included))
    ) and (_gt(r1.end, r2.end) or (_eq(r1.end, r2.end) and (r1.end_included or not r2.end_included)))


def _starts(r1: Range, r2: Range) -> bool:
    return (
        _eq(r1.start, r2.start)
        and r1.start_included == r2.start_included
        and (_lt(r1.end, r2.end) or (_eq(r1.end, r2.end) and (not r1.end_included or r2.end_included)))
    )


_register(
    "finishes",
    (None, lambda p, r: r.end_included and _eq(r.end, p), None, _finishes),
    "point, range",
    "range1, range2",
)
_register(
    "finished by",
    (None, None, lambda r, p: r.end_included and _eq(r.end, p), lambda r1, r2: _finishes(r2, r1)),
    "range, point",
    "range1, range2",
)
_register(
    "includes",
    (None, None, _includes_point, _includes),
    "range, point",
    "range1, range2",
)
_register(
    "during",
    (None, lambda p, r: _includes_point(r, p), None, lambda r1, r2: _includes(r2, r1)),
    "point, range",
    "range1, range2",
)
_register(
    "starts",
    (None, lambda p, r: r.start_included and _eq(r.start, p), None, _starts),
    "point, range",
    "range1, range2",
)
_register(
    "started by",
    (None, None, lambda r, p: r.start_included and _eq(r.start, p), lambda r1, r2: _starts(r2, r1)),
    "range, point",
    "range1, range2",
)
_register(
    "coincides",
    (
        _eq,
        None,
        None,
        lambda r1, r2: (
            _eq(r1.start, r2.start)
            and r1.start_included == r2.start_included
            and _eq(r1.end, r2.end)
            and r1.end_included == r2.end_included
        ),
    ),
    "point1, point2",
    "range1, range2",
)
