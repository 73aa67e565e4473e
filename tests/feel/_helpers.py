"""Small helpers shared by the FEEL tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from isthmus.feel import compile_expression


def feel(text: str, context: Mapping[str, Any] | None = None, *, names: tuple[str, ...] = ()) -> Any:
    """Evaluate ``text`` once with FEEL semantics (warnings collected and dropped)."""
    return compile_expression(text, names=names).evaluate(context or {}, warnings=[])


def feel_warnings(text: str, context: Mapping[str, Any] | None = None) -> tuple[Any, list[str]]:
    warnings: list[str] = []
    value = compile_expression(text).evaluate(context or {}, warnings=warnings)
    return value, warnings
