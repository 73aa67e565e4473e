"""Convenience entry points over :class:`DecisionEngine` for plain Python / JSON callers.

Inputs may be JSON-like: ints and floats become FEEL numbers, and an ISO 8601 string given for an
input declared ``date``, ``time``, ``date and time`` or a duration is converted by FEEL's own
constructor — JSON has no date type, and a person typing ``"2024-05-01"`` means the date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from isthmus.feel import Expression, compile_expression, from_feel, to_feel

from . import _model as m
from ._dmn_xml import load_dmn
from ._engine import DecisionEngine, DecisionResult

_CONSTRUCTORS = {
    "date": "date(x)",
    "time": "time(x)",
    "date and time": "date and time(x)",
    "days and time duration": "duration(x)",
    "years and months duration": "duration(x)",
    "duration": "duration(x)",
}

ModelsArg = m.Definitions | Sequence[m.Definitions] | DecisionEngine


def _engine(models: ModelsArg) -> DecisionEngine:
    if isinstance(models, DecisionEngine):
        return models
    if isinstance(models, m.Definitions):
        return DecisionEngine([models])
    return DecisionEngine(list(models))


def _feel_inputs(engine: DecisionEngine, inputs: Mapping[str, Any]) -> dict[str, Any]:
    declared = engine.input_builtins
    converted: dict[str, Any] = {}
    for name, raw in inputs.items():
        cls = raw.__class__
        if cls is bool or raw is None:  # to_feel's answer, without the call
            converted[name] = raw
            continue
        value = raw if cls is str else to_feel(raw)
        if isinstance(value, str):
            builtin = declared.get(name)
            if builtin in _CONSTRUCTORS:
                value = _constructor(builtin).evaluate({"x": value}, warnings=[])
        converted[name] = value
    return converted


@lru_cache(maxsize=len(_CONSTRUCTORS))
def _constructor(builtin: str) -> Expression:
    return compile_expression(_CONSTRUCTORS[builtin])


def evaluate(models: ModelsArg, decision: str, inputs: Mapping[str, Any]) -> DecisionResult:
    """Evaluate ``decision`` (name or id) of the main model on JSON-like ``inputs``.

    ``models`` is one model, a list whose first item is the main model (the rest are what it
    imports), or a ready :class:`DecisionEngine` (reuses its compile cache). Naming a decision
    service invokes it with ``inputs`` as its parameters.

    Example:
        >>> evaluate(load_dmn("phone-validation.dmn"), "Phone check", {"phone": "13812345678"})  # doctest: +SKIP
    """
    engine = _engine(models)
    return engine.evaluate(decision, _feel_inputs(engine, inputs))


def invoke_decision_service(models: ModelsArg, service: str, inputs: Mapping[str, Any]) -> DecisionResult:
    """Invoke a decision service; ``inputs`` name its input data and input decisions."""
    engine = _engine(models)
    return engine.invoke_service(service, _feel_inputs(engine, inputs))


def load_dmn_set(path: str | Path) -> list[m.Definitions]:
    """Load ``path`` and, transitively, the models it imports from ``.dmn`` files beside it."""
    main = load_dmn(path)
    if not main.imports:
        return [main]
    siblings = {d.namespace: d for d in (load_dmn(p) for p in sorted(Path(path).parent.glob("*.dmn")))}
    loaded = [main]
    pending = [i.namespace for i in main.imports]
    seen = {main.namespace}
    while pending:
        namespace = pending.pop()
        if namespace in seen or namespace not in siblings:
            continue
        seen.add(namespace)
        loaded.append(siblings[namespace])
        pending.extend(i.namespace for i in siblings[namespace].imports)
    return loaded


def to_json_value(value: Any) -> Any:
    """A FEEL value as JSON data: numbers as JSON numbers when exact, else as decimal strings;
    dates, times and durations as ISO 8601 strings; functions as null."""
    return from_feel(value)
