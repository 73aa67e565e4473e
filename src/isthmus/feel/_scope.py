"""Evaluation scopes: the caller's context at the root, :class:`Frame` for every nested scope.

Closures receive the innermost scope. Frames chain to their parent, so entering a loop body, a filter
item or a function call costs one small object, never a copy of the caller's context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MISSING: Any = object()


class Frame:
    """Names bound by a nested scope (loop variables, parameters, context entries, a filter item)."""

    __slots__ = ("parent", "vars")

    def __init__(self, names: dict[str, Any], parent: Any) -> None:
        self.vars = names
        self.parent = parent

    def get(self, name: str, default: Any = None) -> Any:
        """Like ``dict.get`` across the chain, so closures treat frames and the root alike."""
        value = lookup(self, name)
        return default if value is MISSING else value


def lookup(env: Any, name: str) -> Any:
    """The value of ``name`` in ``env`` or its parents, else :data:`MISSING`."""
    while env.__class__ is Frame:
        value = env.vars.get(name, MISSING)
        if value is not MISSING:
            return value
        env = env.parent
    return env.get(name, MISSING)


Fn = Callable[[Any], Any]
