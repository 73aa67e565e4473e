"""FEEL, the one expression language of Isthmus (DMN 1.5 chapter 10), compiled to Python closures.

>>> from isthmus.feel import compile_expression, compile_unary_tests
>>> compile_expression("if Age >= 18 then \\"adult\\" else \\"minor\\"", names=["Age"]).evaluate({"Age": 20})
'adult'
>>> compile_unary_tests("[18..65)").matches(40, {})
True

Runtime errors never raise: they yield null (``None``) and append a message to ``warnings``.
See ``docs/feel.md`` for the value mapping, the safety bounds and batch mode.
"""

from __future__ import annotations

#: FEEL times are ``datetime.time`` values (naive = local; tzinfo a fixed offset or a ``ZoneInfo``).
from datetime import time as FeelTime  # noqa: N812
from typing import TYPE_CHECKING, Any

from isthmus.feel._errors import FeelSyntaxError
from isthmus.feel._expression import (
    Expression,
    UnaryTests,
    compile_expression,
    compile_unary_tests,
    shared_run,
)
from isthmus.feel._functions import BUILTINS
from isthmus.feel._runtime import EvaluationLimits
from isthmus.feel._typecheck import conforms
from isthmus.feel._types import DaysTimeDuration, FeelFunction, Range, YearsMonthsDuration
from isthmus.feel._values import feel_type_of, from_feel, to_feel, to_string

if TYPE_CHECKING:
    from isthmus.feel._batch import BatchExpression, compile_batch

BUILTIN_NAMES = frozenset(BUILTINS)


def __getattr__(name: str) -> Any:
    """Batch mode loads Polars on first use, so plain expression users never pay its import time."""
    if name in ("BatchExpression", "compile_batch"):
        from isthmus.feel import _batch

        return getattr(_batch, name)
    raise AttributeError(f"module 'isthmus.feel' has no attribute {name!r}")


__all__ = [
    "BUILTIN_NAMES",
    "BatchExpression",
    "DaysTimeDuration",
    "EvaluationLimits",
    "Expression",
    "FeelFunction",
    "FeelSyntaxError",
    "FeelTime",
    "Range",
    "UnaryTests",
    "YearsMonthsDuration",
    "compile_batch",
    "compile_expression",
    "compile_unary_tests",
    "conforms",
    "feel_type_of",
    "from_feel",
    "shared_run",
    "to_feel",
    "to_string",
]
