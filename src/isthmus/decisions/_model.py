"""Immutable specs of a DMN model, as the parser reads them (DMN 1.5, chapters 6–9).

The parser turns XML into these frozen dataclasses; the engine never sees XML. Every element keeps
the line it came from so an error or warning can point at the file. Expression texts stay texts:
they are compiled by :mod:`isthmus.feel` when the engine knows which names are in scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True, slots=True)
class Href:
    """A reference to a DRG element: ``#id`` (same model) or ``namespace#id`` (an imported model)."""

    namespace: str
    id: str


@dataclass(frozen=True, slots=True)
class LiteralExpression:
    text: str
    type_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One row of a boxed context; ``name`` is None for the final-result row."""

    name: str | None
    type_ref: str | None
    expression: Expression | None


@dataclass(frozen=True, slots=True)
class Context:
    entries: tuple[ContextEntry, ...]
    type_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ListExpression:
    items: tuple[Expression, ...]
    type_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    columns: tuple[str, ...]
    rows: tuple[tuple[Expression | None, ...], ...]
    type_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    expression: Expression | None


@dataclass(frozen=True, slots=True)
class Invocation:
    callee: Expression
    bindings: tuple[Binding, ...]
    type_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type_ref: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionDefinition:
    parameters: tuple[Parameter, ...]
    body: Expression | None
    kind: str = "FEEL"
    type_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Conditional:
    """DMN 1.4 boxed conditional: ``if``/``then``/``else`` as three child expressions."""

    condition: Expression | None
    then: Expression | None
    otherwise: Expression | None
    type_ref: str | None = None
    line: int | None = None


class IterationKind(Enum):
    FOR = "for"
    SOME = "some"
    EVERY = "every"


@dataclass(frozen=True, slots=True)
class Iteration:
    """DMN 1.4 boxed iterator: ``for``/``some``/``every`` over ``source``."""

    kind: IterationKind
    variable: str
    source: Expression | None
    body: Expression | None
    type_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    """DMN 1.4 boxed filter: keep the items of ``source`` for which ``match`` is true."""

    source: Expression | None
    match: Expression | None
    type_ref: str | None = None
    line: int | None = None


class HitPolicy(Enum):
    UNIQUE = "U"
    ANY = "A"
    PRIORITY = "P"
    FIRST = "F"
    RULE_ORDER = "R"
    OUTPUT_ORDER = "O"
    COLLECT = "C"


class Aggregation(Enum):
    SUM = "+"
    MIN = "<"
    MAX = ">"
    COUNT = "#"


@dataclass(frozen=True, slots=True)
class InputClause:
    expression: str
    type_ref: str | None = None
    input_values: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class OutputClause:
    name: str | None
    type_ref: str | None = None
    output_values: str | None = None
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    input_entries: tuple[str, ...]
    output_entries: tuple[str, ...]
    line: int | None = None


@dataclass(frozen=True, slots=True)
class DecisionTable:
    hit_policy: HitPolicy
    aggregation: Aggregation | None
    inputs: tuple[InputClause, ...]
    outputs: tuple[OutputClause, ...]
    rules: tuple[Rule, ...]
    type_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Unsupported:
    """An expression kind Isthmus does not evaluate (e.g. a Java function); evaluates to null."""

    tag: str
    type_ref: str | None = None
    line: int | None = None


Expression = (
    LiteralExpression
    | Context
    | ListExpression
    | Relation
    | Invocation
    | FunctionDefinition
    | Conditional
    | Iteration
    | Filter
    | DecisionTable
    | Unsupported
)


@dataclass(frozen=True, slots=True)
class FunctionItem:
    parameters: tuple[Parameter, ...]
    output_type_ref: str | None


@dataclass(frozen=True, slots=True)
class ItemDefinition:
    """A named type (DMN 1.5 §7.3.2): a typeRef, or components, optionally a collection/constrained."""

    name: str
    type_ref: str | None = None
    is_collection: bool = False
    allowed_values: str | None = None
    type_constraint: str | None = None
    components: tuple[ItemDefinition, ...] = ()
    function_item: FunctionItem | None = None


@dataclass(frozen=True, slots=True)
class InputData:
    id: str
    name: str
    type_ref: str | None = None
    label: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    name: str
    type_ref: str | None
    expression: Expression | None
    required_decisions: tuple[Href, ...] = ()
    required_inputs: tuple[Href, ...] = ()
    required_knowledge: tuple[Href, ...] = ()
    label: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class BusinessKnowledgeModel:
    id: str
    name: str
    type_ref: str | None
    logic: FunctionDefinition | None
    required_knowledge: tuple[Href, ...] = ()
    label: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class DecisionService:
    id: str
    name: str
    type_ref: str | None
    output_decisions: tuple[Href, ...]
    encapsulated_decisions: tuple[Href, ...]
    input_decisions: tuple[Href, ...]
    input_data: tuple[Href, ...]
    label: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Import:
    name: str
    namespace: str
    location: str | None = None


DrgElement = InputData | Decision | BusinessKnowledgeModel | DecisionService


@dataclass(frozen=True, slots=True)
class Definitions:
    """One DMN file: its namespace, item definitions, imports and DRG elements (by id)."""

    name: str
    namespace: str
    id: str | None = None
    source: str | None = None
    imports: tuple[Import, ...] = ()
    item_definitions: tuple[ItemDefinition, ...] = ()
    elements: tuple[DrgElement, ...] = field(default=())

    def element(self, id_or_name: str) -> DrgElement | None:
        """The element with this id, else the one with this name (ids win: they are unique)."""
        for element in self.elements:
            if element.id == id_or_name:
                return element
        for element in self.elements:
            if element.name == id_or_name:
                return element
        return None

    def item_definition(self, name: str) -> ItemDefinition | None:
        for item in self.item_definitions:
            if item.name == name:
                return item
        return None
