"""DMN XML (1.1 – 1.5) to the immutable specs of :mod:`._model`.

Hardened the way OWASP recommends for XML from strangers: lxml never resolves entities, never
touches the network, keeps its size limits (``huge_tree=False``), and any DOCTYPE is refused
outright — a DMN file has no use for one, and refusing it is the clearest answer to XXE and
"billion laughs" payloads. Element names are matched by local name so that every DMN namespace
(and Camunda's extension attributes) load alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from isthmus.errors import InvalidInput, Location
from isthmus.hardened_xml import parse_untrusted

from . import _model as m

DMN_NAMESPACES = frozenset(
    {
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "https://www.omg.org/spec/DMN/20211108/MODEL/",
        "https://www.omg.org/spec/DMN/20230324/MODEL/",
    }
)

_HIT_POLICIES = {
    "UNIQUE": m.HitPolicy.UNIQUE,
    "ANY": m.HitPolicy.ANY,
    "PRIORITY": m.HitPolicy.PRIORITY,
    "FIRST": m.HitPolicy.FIRST,
    "RULE ORDER": m.HitPolicy.RULE_ORDER,
    "OUTPUT ORDER": m.HitPolicy.OUTPUT_ORDER,
    "COLLECT": m.HitPolicy.COLLECT,
}
_AGGREGATIONS = {
    "SUM": m.Aggregation.SUM,
    "MIN": m.Aggregation.MIN,
    "MAX": m.Aggregation.MAX,
    "COUNT": m.Aggregation.COUNT,
}
_MAX_BYTES = 20 * 1024 * 1024

Element = etree._Element


def _local(element: Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _line(element: Element) -> int | None:
    line: object = getattr(element, "sourceline", None)  # lxml-stubs mistype it
    return line if isinstance(line, int) else None


def _children(element: Element, name: str | None = None) -> list[Element]:
    return [c for c in element if isinstance(c.tag, str) and (name is None or _local(c) == name)]


def _child(element: Element, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text_of(element: Element | None) -> str | None:
    """The ``<text>`` child of ``element`` (None when absent)."""
    if element is None:
        return None
    text = _child(element, "text")
    if text is None:
        return None
    return text.text or ""


class _Parser:
    """Reads one ``<definitions>`` element; ``source`` names the file in errors."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, element: Element | None, template: str, **params: Any) -> InvalidInput:
        line = _line(element) if element is not None else None
        return InvalidInput(template, location=Location(file=self.source, line=line), **params)

    def required(self, element: Element, attribute: str) -> str:
        value = element.get(attribute)
        if value is None or value == "":
            raise self.fail(
                element, "<{tag}> needs a {attribute!r} attribute", tag=_local(element), attribute=attribute
            )
        return value

    # -- definitions ---------------------------------------------------------------------------

    def definitions(self, root: Element) -> m.Definitions:
        namespace = root.get("namespace") or ""
        self.namespace = namespace
        elements: list[m.DrgElement] = []
        readers: dict[str, Callable[[Element], m.DrgElement]] = {
            "inputData": self.input_data,
            "decision": self.decision,
            "businessKnowledgeModel": self.bkm,
            "decisionService": self.decision_service,
        }
        for child in _children(root):
            reader = readers.get(_local(child))
            if reader is not None:
                elements.append(reader(child))
        return m.Definitions(
            name=root.get("name") or "",
            namespace=namespace,
            id=root.get("id"),
            source=self.source,
            imports=tuple(self.import_(c) for c in _children(root, "import")),
            item_definitions=tuple(self.item_definition(c) for c in _children(root, "itemDefinition")),
            elements=tuple(elements),
        )

    def import_(self, element: Element) -> m.Import:
        return m.Import(
            name=element.get("name") or "",
            namespace=self.required(element, "namespace"),
            location=element.get("locationURI"),
        )

    def item_definition(self, element: Element) -> m.ItemDefinition:
        type_ref = element.get("typeRef")
        type_ref_el = _child(element, "typeRef")
        if type_ref_el is not None:
            type_ref = (type_ref_el.text or "").strip()
        function_item = _child(element, "functionItem")
        return m.ItemDefinition(
            name=element.get("name") or "",
            type_ref=type_ref or None,
            is_collection=element.get("isCollection") == "true",
            allowed_values=_text_of(_child(element, "allowedValues")),
            type_constraint=_text_of(_child(element, "typeConstraint")),
            components=tuple(self.item_definition(c) for c in _children(element, "itemComponent")),
            function_item=self.function_item(function_item) if function_item is not None else None,
        )

    def function_item(self, element: Element) -> m.FunctionItem:
        params = tuple(
            m.Parameter(self.required(p, "name"), p.get("typeRef")) for p in _children(element, "parameters")
        )
        return m.FunctionItem(params, element.get("outputTypeRef"))

    def href(self, element: Element) -> m.Href:
        ref = self.required(element, "href")
        namespace, _, id_ = ref.rpartition("#")
        return m.Href(namespace or self.namespace, id_)

    def hrefs(self, element: Element, wrapper: str, name: str) -> tuple[m.Href, ...]:
        found: list[m.Href] = []
        for req in _children(element, wrapper):
            found.extend(self.href(ref) for ref in _children(req, name))
        return tuple(found)

    def variable_type(self, element: Element) -> str | None:
        variable = _child(element, "variable")
        return variable.get("typeRef") if variable is not None else None

    # A DRG element without an id (seen in the wild) is addressed by its name instead.

    def input_data(self, element: Element) -> m.InputData:
        return m.InputData(
            id=element.get("id") or self.required(element, "name"),
            name=self.required(element, "name"),
            type_ref=self.variable_type(element),
            label=element.get("label"),
            line=_line(element),
        )

    def decision(self, element: Element) -> m.Decision:
        return m.Decision(
            id=element.get("id") or self.required(element, "name"),
            name=self.required(element, "name"),
            type_ref=self.variable_type(element),
            expression=self.expression_in(element),
            required_decisions=self.hrefs(element, "informationRequirement", "requiredDecision"),
            required_inputs=self.hrefs(element, "informationRequirement", "requiredInput"),
            required_knowledge=self.hrefs(element, "knowledgeRequirement", "requiredKnowledge"),
            label=element.get("label"),
            line=_line(element),
        )

    def bkm(self, element: Element) -> m.BusinessKnowledgeModel:
        logic = _child(element, "encapsulatedLogic")
        return m.BusinessKnowledgeModel(
            id=element.get("id") or self.required(element, "name"),
            name=self.required(element, "name"),
            type_ref=self.variable_type(element),
            logic=self.function_definition(logic) if logic is not None else None,
            required_knowledge=self.hrefs(element, "knowledgeRequirement", "requiredKnowledge"),
            label=element.get("label"),
            line=_line(element),
        )

    def decision_service(self, element: Element) -> m.DecisionService:
        def refs(name: str) -> tuple[m.Href, ...]:
            return tuple(self.href(c) for c in _children(element, name))

        return m.DecisionService(
            id=element.get("id") or self.required(element, "name"),
            name=self.required(element, "name"),
            type_ref=self.variable_type(element),
            output_decisions=refs("outputDecision"),
            encapsulated_decisions=refs("encapsulatedDecision"),
            input_decisions=refs("inputDecision"),
            input_data=refs("inputData"),
            label=element.get("label"),
            line=_line(element),
        )

    # -- expressions ---------------------------------------------------------------------------

    def expression_in(self, element: Element | None) -> m.Expression | None:
        """The first boxed expression among the children of ``element``."""
        if element is None:
            return None
        for child in _children(element):
            if _local(child) in _EXPRESSIONS:
                return self.expression(child)
        return None

    def expression(self, element: Element) -> m.Expression:
        reader = _EXPRESSIONS.get(_local(element))
        if reader is None:
            return m.Unsupported(_local(element), element.get("typeRef"), _line(element))
        return reader(self, element)

    def literal(self, element: Element) -> m.LiteralExpression:
        return m.LiteralExpression(_text_of(element) or "", element.get("typeRef"), _line(element))

    def context(self, element: Element) -> m.Context:
        entries = []
        for entry in _children(element, "contextEntry"):
            variable = _child(entry, "variable")
            name = variable.get("name") if variable is not None else None
            type_ref = variable.get("typeRef") if variable is not None else None
            entries.append(m.ContextEntry(name, type_ref, self.expression_in(entry)))
        return m.Context(tuple(entries), element.get("typeRef"), _line(element))

    def list_(self, element: Element) -> m.ListExpression:
        items = tuple(self.expression(c) for c in _children(element) if _local(c) in _EXPRESSIONS)
        return m.ListExpression(items, element.get("typeRef"), _line(element))

    def relation(self, element: Element) -> m.Relation:
        columns = tuple(self.required(c, "name") for c in _children(element, "column"))
        rows = []
        for row in _children(element, "row"):
            cells: list[m.Expression | None] = [
                self.expression(c) for c in _children(row) if _local(c) in _EXPRESSIONS
            ]
            cells.extend([None] * (len(columns) - len(cells)))
            rows.append(tuple(cells))
        return m.Relation(columns, tuple(rows), element.get("typeRef"), _line(element))

    def invocation(self, element: Element) -> m.Invocation:
        callee = self.expression_in(element)
        if callee is None:
            raise self.fail(element, "<invocation> needs a callee expression")
        bindings = []
        for binding in _children(element, "binding"):
            parameter = _child(binding, "parameter")
            if parameter is None:
                raise self.fail(binding, "<binding> needs a <parameter>")
            bindings.append(m.Binding(self.required(parameter, "name"), self.expression_in(binding)))
        return m.Invocation(callee, tuple(bindings), element.get("typeRef"), _line(element))

    def function_definition(self, element: Element) -> m.FunctionDefinition:
        params = tuple(
            m.Parameter(self.required(p, "name"), p.get("typeRef"))
            for p in _children(element, "formalParameter")
        )
        return m.FunctionDefinition(
            params,
            self.expression_in(element),
            element.get("kind") or "FEEL",
            element.get("typeRef"),
            _line(element),
        )

    def conditional(self, element: Element) -> m.Conditional:
        return m.Conditional(
            self.expression_in(_child(element, "if")),
            self.expression_in(_child(element, "then")),
            self.expression_in(_child(element, "else")),
            element.get("typeRef"),
            _line(element),
        )

    def iteration(self, element: Element) -> m.Iteration:
        kind = m.IterationKind(_local(element))
        body_tag = "return" if kind is m.IterationKind.FOR else "satisfies"
        return m.Iteration(
            kind,
            self.required(element, "iteratorVariable"),
            self.expression_in(_child(element, "in")),
            self.expression_in(_child(element, body_tag)),
            element.get("typeRef"),
            _line(element),
        )

    def filter_(self, element: Element) -> m.Filter:
        return m.Filter(
            self.expression_in(_child(element, "in")),
            self.expression_in(_child(element, "match")),
            element.get("typeRef"),
            _line(element),
        )

    def decision_table(self, element: Element) -> m.DecisionTable:
        policy_text = (element.get("hitPolicy") or "UNIQUE").strip().upper()
        policy = _HIT_POLICIES.get(policy_text)
        if policy is None:
            raise self.fail(element, "unknown hit policy {policy!r}", policy=policy_text)
        aggregation_text = element.get("aggregation")
        aggregation = None
        if aggregation_text:
            aggregation = _AGGREGATIONS.get(aggregation_text.strip().upper())
            if aggregation is None:
                raise self.fail(element, "unknown aggregation {value!r}", value=aggregation_text)
        inputs = tuple(self.input_clause(c) for c in _children(element, "input"))
        outputs = tuple(self.output_clause(c) for c in _children(element, "output"))
        rules = tuple(self.rule(c, i) for i, c in enumerate(_children(element, "rule")))
        for rule in rules:
            if len(rule.input_entries) != len(inputs) or len(rule.output_entries) != len(outputs):
                raise self.fail(element, "rule {rule!r} has the wrong number of entries", rule=rule.id)
        return m.DecisionTable(
            policy, aggregation, inputs, outputs, rules, element.get("typeRef"), _line(element)
        )

    def input_clause(self, element: Element) -> m.InputClause:
        expression = _child(element, "inputExpression")
        if expression is None:
            raise self.fail(element, "<input> needs an <inputExpression>")
        return m.InputClause(
            expression=_text_of(expression) or "",
            type_ref=expression.get("typeRef"),
            input_values=_text_of(_child(element, "inputValues")),
            label=element.get("label"),
        )

    def output_clause(self, element: Element) -> m.OutputClause:
        return m.OutputClause(
            name=element.get("name"),
            type_ref=element.get("typeRef"),
            output_values=_text_of(_child(element, "outputValues")),
            default=_text_of(_child(element, "defaultOutputEntry")),
        )

    def rule(self, element: Element, index: int) -> m.Rule:
        return m.Rule(
            id=element.get("id") or f"rule {index + 1}",
            input_entries=tuple(_text_of(c) or "-" for c in _children(element, "inputEntry")),
            output_entries=tuple(_text_of(c) or "" for c in _children(element, "outputEntry")),
            line=_line(element),
        )


_EXPRESSIONS: dict[str, Callable[[_Parser, Element], m.Expression]] = {
    "literalExpression": _Parser.literal,
    "context": _Parser.context,
    "list": _Parser.list_,
    "relation": _Parser.relation,
    "invocation": _Parser.invocation,
    "functionDefinition": _Parser.function_definition,
    "decisionTable": _Parser.decision_table,
    "conditional": _Parser.conditional,
    "for": _Parser.iteration,
    "some": _Parser.iteration,
    "every": _Parser.iteration,
    "filter": _Parser.filter_,
}


def parse_xml(data: bytes, *, source: str | None = None) -> Element:
    """Parse untrusted XML safely; DOCTYPEs are refused (XXE, entity expansion)."""
    return parse_untrusted(data, source=source, max_bytes=_MAX_BYTES, keep_comments=False).getroot()


def parse_dmn(data: bytes | str, *, source: str | None = None) -> m.Definitions:
    """Parse one DMN file (any of DMN 1.1 – 1.5) into immutable :class:`Definitions`.

    Raises:
        SyntaxProblem: the XML is not well formed (with file and line).
        InvalidInput: not DMN, a DOCTYPE, or a required attribute is missing.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    root = parse_xml(raw, source=source)
    namespace = etree.QName(root.tag).namespace
    if _local(root) != "definitions" or namespace not in DMN_NAMESPACES:
        raise InvalidInput(
            "not a DMN file: root element {tag!r} is not a DMN <definitions>",
            location=Location(file=source, line=_line(root)),
            tag=root.tag,
        )
    return _Parser(source).definitions(root)


def load_dmn(path: str | Path) -> m.Definitions:
    """Read and parse a ``.dmn`` file; errors name the file and line."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "cannot read the file: {reason}",
            location=Location(file=str(file)),
            path=str(file),
            reason=exc.strerror or str(exc),
        ) from None
    return parse_dmn(data, source=str(file))
