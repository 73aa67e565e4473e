"""Item definitions and type conformance (DMN 1.5 §7.3.2, §10.3.2.9.4).

A value that does not conform to its declared type becomes null (with a warning), after the two
implicit conversions the spec allows: *from singleton list* (``[x]`` where ``x`` is expected) and
*to singleton list* (``x`` where a list of ``x`` is expected). ``allowedValues`` and
``typeConstraint`` are unary tests; a value outside them does not conform either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from isthmus.feel import DaysTimeDuration, FeelFunction, Range, YearsMonthsDuration

from . import _model as m
from ._feel import Compiler

_ALIASES = {
    "dateTime": "date and time",
    "dayTimeDuration": "days and time duration",
    "yearMonthDuration": "years and months duration",
    "decimal": "number",
    "integer": "number",
    "double": "number",
    "int": "number",
    "long": "number",
    "any": "Any",
}


def _is_number(v: Any) -> bool:
    return isinstance(v, Decimal | int | float) and not isinstance(v, bool)


def _is_date(v: Any) -> bool:
    return isinstance(v, dt.date) and not isinstance(v, dt.datetime)


_BUILTINS: dict[str, Callable[[Any], bool]] = {
    "Any": lambda v: True,
    "Null": lambda v: v is None,
    "number": _is_number,
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "date": _is_date,
    "time": lambda v: isinstance(v, dt.time),
    "date and time": lambda v: isinstance(v, dt.datetime),
    "days and time duration": lambda v: isinstance(v, DaysTimeDuration),
    "years and months duration": lambda v: isinstance(v, YearsMonthsDuration),
    "duration": lambda v: isinstance(v, DaysTimeDuration | YearsMonthsDuration),
    "context": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
    "function": lambda v: isinstance(v, FeelFunction) or callable(v),
    "range": lambda v: isinstance(v, Range),
}


# a value of exactly this class conforms to the bare built-in type (bool is not an int here: the
# test is on the class itself, never isinstance)
_PLAIN: dict[str, type] = {"number": Decimal, "string": str, "boolean": bool}


@dataclass(frozen=True, slots=True)
class ResolvedType:
    """A typeRef resolved against item definitions: what the engine checks a value against."""

    name: str
    builtin: str | None = None
    element: ResolvedType | None = None
    components: tuple[tuple[str, ResolvedType], ...] | None = None
    allowed_values: str | None = None
    type_constraint: str | None = None
    base: ResolvedType | None = None
    is_function: bool = False
    extra: tuple[str, ...] = field(default=())


ANY = ResolvedType("Any", builtin="Any")


def builtin_name(type_ref: str) -> str | None:
    """The FEEL built-in type a typeRef names (``feel:number``, ``xsd:dateTime`` …), else None."""
    name = type_ref.strip()
    if ":" in name and not name.startswith(("list<", "context<", "range<", "function<")):
        name = name.split(":", 1)[1]
    name = _ALIASES.get(name, name)
    return name if name in _BUILTINS else None


class TypeSystem:
    """Resolves typeRefs of a set of models and checks values against them.

    ``models`` maps namespace to definitions; typeRefs may be qualified by an import name
    (``myimport.tPerson``).
    """

    def __init__(self, models: Mapping[str, m.Definitions], compiler: Compiler) -> None:
        self._models = models
        self._compiler = compiler
        self._cache: dict[tuple[str, str], ResolvedType] = {}
        #: plain_class() answers by (namespace, typeRef), for callers that read it inline
        self.plain: dict[tuple[str, str], type | None] = {}

    def plain_class(self, type_ref: str, namespace: str) -> type | None:
        """The one class whose values conform to ``type_ref`` as they are, when the type is a bare
        ``number`` (Decimal), ``string`` or ``boolean``: no base, no constraints, no conversion."""
        key = (namespace, type_ref)
        try:
            return self.plain[key]
        except KeyError:
            pass
        resolved = self.resolve(type_ref, namespace)
        found = (
            _PLAIN.get(resolved.builtin or "")
            if resolved.base is None
            and resolved.element is None
            and resolved.components is None
            and not (resolved.allowed_values and resolved.allowed_values.strip())
            and not (resolved.type_constraint and resolved.type_constraint.strip())
            else None
        )
        self.plain[key] = found
        return found

    def resolve(self, type_ref: str | None, namespace: str) -> ResolvedType:
        if not type_ref:
            return ANY
        key = (namespace, type_ref)
        found = self._cache.get(key)
        if found is None:
            self._cache[key] = ANY  # breaks recursive item definitions
            found = self._resolve(type_ref.strip(), namespace)
            self._cache[key] = found
        return found

    def _resolve(self, type_ref: str, namespace: str) -> ResolvedType:
        model = self._models.get(namespace)
        item = model.item_definition(type_ref) if model else None
        if item is not None:
            return self._item(item, namespace)
        if type_ref.startswith("list<") and type_ref.endswith(">"):
            inner = self.resolve(type_ref[5:-1], namespace)
            return ResolvedType(type_ref, builtin="list", element=inner)
        builtin = builtin_name(type_ref)
        if builtin is not None:
            return ResolvedType(builtin, builtin=builtin)
        for head in ("context<", "function<", "range<"):
            if type_ref.startswith(head):
                return ResolvedType(type_ref, builtin=head[:-1])
        return self._qualified(type_ref, namespace)

    def _qualified(self, type_ref: str, namespace: str) -> ResolvedType:
        """``import.tName`` or ``tOuter.component`` (a nested component used as a type)."""
        model = self._models.get(namespace)
        prefix, _, rest = type_ref.partition(".")
        if model is not None and rest:
            for imp in model.imports:
                if imp.name == prefix and imp.namespace in self._models:
                    return self.resolve(rest, imp.namespace)
            outer = self.resolve(prefix, namespace)
            for name, component in outer.components or ():
                if name == rest:
                    return component
        return ANY

    def _item(self, item: m.ItemDefinition, namespace: str) -> ResolvedType:
        single = self._single(item, namespace)
        if item.is_collection:
            return ResolvedType(item.name, builtin="list", element=single, type_constraint=None)
        return single

    def _single(self, item: m.ItemDefinition, namespace: str) -> ResolvedType:
        constraint = item.type_constraint
        if item.components:
            parts = tuple((c.name, self._item(c, namespace)) for c in item.components)
            return ResolvedType(
                item.name,
                builtin="context",
                components=parts,
                allowed_values=item.allowed_values,
                type_constraint=constraint,
            )
        if item.function_item is not None:
            return ResolvedType(item.name, builtin="function", is_function=True)
        base = self.resolve(item.type_ref, namespace) if item.type_ref else ANY
        return ResolvedType(
            item.name, base=base, allowed_values=item.allowed_values, type_constraint=constraint
        )

    def table(self, model: m.Definitions) -> dict[str, Callable[[Any], bool]]:
        """Predicates for FEEL ``instance of`` over the item definitions of ``model``."""

        def check(name: str) -> Callable[[Any], bool]:
            # ``instance of`` tests the base type only: allowed values are not part of it (TCK 0070).
            return lambda v: (
                v is not None and self.conforms(v, self.resolve(name, model.namespace), constraints=False)
            )

        return {item.name: check(item.name) for item in model.item_definitions}

    # -- conformance ---------------------------------------------------------------------------

    def coerce(self, value: Any, type_: ResolvedType, warnings: list[str], what: str) -> Any:
        """``value`` if it conforms to ``type_`` (after singleton-list conversion), else null."""
        if value is None or type_ is ANY:
            return value
        ok, converted = self.convert(value, type_)
        if ok:
            return converted
        warnings.append(f"{what}: value {_show(value)} does not conform to type {type_.name!r}; null used")
        return None

    def convert(self, value: Any, type_: ResolvedType) -> tuple[bool, Any]:
        """(True, value after at most one singleton-list conversion) or (False, None)."""
        if self.conforms(value, type_):
            return True, value
        if isinstance(value, list) and len(value) == 1 and not _is_list_type(type_):
            if self.conforms(value[0], type_):  # from singleton list (one level only)
                return True, value[0]
            return False, None
        if _is_list_type(type_) and not isinstance(value, list):
            element = _element(type_)
            if element is not None and self.conforms(value, element):
                return True, [value]  # to singleton list
        return False, None

    def conforms(self, value: Any, type_: ResolvedType, *, constraints: bool = True) -> bool:
        """Whether ``value`` is an instance of ``type_`` (null conforms to every type).

        ``constraints=False`` ignores allowed values and type constraints, as FEEL ``instance of`` does.
        """
        if value is None:
            return True
        if type_.base is not None and not self.conforms(value, type_.base, constraints=constraints):
            return False
        if type_.builtin is not None and not _BUILTINS[type_.builtin](value):
            return False
        element = type_.element
        if element is not None and not all(self.conforms(v, element, constraints=constraints) for v in value):
            return False
        parts = type_.components
        if parts is not None and not self._components_conform(value, parts, constraints):
            return False
        return not constraints or self._constraints_hold(value, type_)

    def _components_conform(
        self, value: dict[str, Any], parts: tuple[tuple[str, ResolvedType], ...], constraints: bool
    ) -> bool:
        # Every component must be present (a context lacking one is not an instance); extra
        # entries are allowed (FEEL context subtyping, DMN 1.5 §10.3.2.9.1).
        return all(
            name in value and self.conforms(value[name], p, constraints=constraints) for name, p in parts
        )

    def _constraints_hold(self, value: Any, type_: ResolvedType) -> bool:
        for text in (type_.allowed_values, type_.type_constraint):
            if text and text.strip() and not self._compiler.matches(text, value, {}, []):
                return False
        return True


def _is_list_type(type_: ResolvedType) -> bool:
    while type_.base is not None and type_.builtin is None:
        type_ = type_.base
    return type_.builtin == "list"


def _element(type_: ResolvedType) -> ResolvedType | None:
    while type_.base is not None and type_.builtin is None:
        type_ = type_.base
    return type_.element


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
