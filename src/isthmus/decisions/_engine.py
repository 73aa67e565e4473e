"""Evaluating decisions, business knowledge models and decision services (DMN 1.5 §6.3, §10.4).

One :class:`DecisionEngine` holds a :class:`ModelSet` and the FEEL compile cache; each call to
:meth:`DecisionEngine.evaluate` is one *run* with its own memo, so a decision required twice is
evaluated once per run. A decision's scope holds exactly what its requirements name: input data
and required decisions by name, BKMs and decision services as FEEL functions, and everything from
an imported model inside a context named after the import (``myimport.Decision``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from isthmus.errors import InvalidInput
from isthmus.feel import FeelFunction

from . import _model as m
from ._boxed import Evaluator, evaluate_expression, make_function
from ._feel import Compiler
from ._graph import Key, ModelSet
from ._tables import evaluate_table
from ._types import TypeSystem, builtin_name


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """The outcome of one evaluation.

    ``value`` is the asked decision's (or service's) result; ``results`` holds every decision the
    run evaluated, by name; ``matched_rules`` the rule ids each decision table matched.
    """

    decision_id: str
    decision_name: str
    value: Any
    results: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    matched_rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_MISSING = object()


class _Run:
    """One evaluation: inputs, the per-run memo, warnings and matched rules."""

    def __init__(
        self,
        engine: DecisionEngine,
        inputs: Mapping[str, Any],
        namespaced: Mapping[tuple[str, str], Any],
        warnings: list[str] | None = None,
    ) -> None:
        self.engine = engine
        self.inputs = inputs
        self.namespaced = namespaced
        self.memo: dict[Key, Any] = {}
        self.warnings: list[str] = [] if warnings is None else warnings
        self.matched: dict[str, tuple[str, ...]] = {}
        self.results: dict[str, Any] = {}

    def evaluator(self, namespace: str) -> Evaluator:
        return Evaluator(self.engine.compiler, self.engine.types, namespace, self.warnings, self.matched)

    def value(self, model: m.Definitions, element: m.DrgElement) -> Any:
        key = (model.namespace, element.id)
        value = self.memo.get(key, _MISSING)
        if value is _MISSING:
            value = self.memo[key] = self._compute(model, element)
        return value

    def _compute(self, model: m.Definitions, element: m.DrgElement) -> Any:
        if isinstance(element, m.InputData):
            return self._input(model, element)
        if isinstance(element, m.Decision):
            return self._decision(model, element)
        if isinstance(element, m.BusinessKnowledgeModel):
            return self._bkm(model, element)
        return self._service_function(model, element)

    def _input(self, model: m.Definitions, element: m.InputData) -> Any:
        namespaced = self.namespaced
        value = namespaced.get((model.namespace, element.name), _MISSING) if namespaced else _MISSING
        if value is _MISSING and model is self.engine.models.main:
            value = self.inputs.get(element.name, self.inputs.get(element.id, _MISSING))
        if value is _MISSING:
            value = self.inputs.get(element.name)
        type_ref = element.type_ref
        if not type_ref or value.__class__ is self.engine.types.plain_class(type_ref, model.namespace):
            return value  # what Evaluator.coerce would find, without building one
        ev = self.evaluator(model.namespace)
        return ev.coerce(value, type_ref, f"input data {element.name!r}")

    def _decision(self, model: m.Definitions, decision: m.Decision) -> Any:
        scope = self.scope(
            model,
            (*decision.required_inputs, *decision.required_decisions),
            decision.required_knowledge,
            decision.id,
        )
        if model is self.engine.models.main:
            scope = {**self._undeclared(), **scope}
        return self._decide(model, decision, scope)

    def inputs_only(self, model: m.Definitions, decision: m.Decision, required: Sequence[m.InputData]) -> Any:
        """:meth:`value` of a main-model decision that requires only input data of its own model
        (``required``): the same scope, in the same order, without walking the requirement graph."""
        scope = self._undeclared()
        memo, namespace = self.memo, model.namespace
        for element in required:
            key = (namespace, element.id)
            value = memo.get(key, _MISSING)  # value(), inline: an input required twice is read once
            if value is _MISSING:
                value = memo[key] = self._input(model, element)
            scope[element.name] = value
        value = self.memo[(model.namespace, decision.id)] = self._decide(model, decision, scope)
        return value

    def _decide(self, model: m.Definitions, decision: m.Decision, scope: dict[str, Any]) -> Any:
        ev = self.evaluator(model.namespace)
        ev.current = decision.name
        expression = decision.expression
        if expression.__class__ is m.DecisionTable and not expression.type_ref:
            value = evaluate_table(expression, scope, ev)  # what evaluate_expression does with it
        else:
            value = evaluate_expression(expression, scope, ev)
        if decision.type_ref:
            value = ev.coerce(value, decision.type_ref, f"decision {decision.name!r}")
        self.results[self.qualified(model, decision.name)] = value
        return value

    def _undeclared(self) -> dict[str, Any]:
        """Inputs that name no input data: Camunda-style models read them as plain variables."""
        declared = self.engine.input_types
        return {k: v for k, v in self.inputs.items() if k not in declared}

    def qualified(self, model: m.Definitions, name: str) -> str:
        if model is self.engine.models.main:
            return name
        prefix = self.engine.models.prefix(self.engine.models.main, model.namespace)
        return f"{prefix}.{name}" if prefix else name

    def scope(
        self,
        model: m.Definitions,
        information: Sequence[m.Href],
        knowledge: Sequence[m.Href],
        element_id: str | None = None,
    ) -> dict[str, Any]:
        """Names visible to an element of ``model`` that requires ``information`` and ``knowledge``
        (``element_id``: that element's id, to look the requirements up once per engine)."""
        scope: dict[str, Any] = {}
        for owner, target, prefix in self.engine.requirements(model, information, knowledge, element_id):
            value = self.value(owner, target)
            if not prefix:
                scope[target.name] = value
                continue
            inner = scope.setdefault(prefix, {})
            if isinstance(inner, dict):
                inner[target.name] = value
        return scope

    def _bkm(self, model: m.Definitions, bkm: m.BusinessKnowledgeModel) -> Any:
        if bkm.logic is None:
            return FeelFunction([], lambda: None, name=bkm.name)
        scope = self.scope(model, (), bkm.required_knowledge)
        ev = self.evaluator(model.namespace)
        output_type = self._function_output_type(model, bkm.type_ref)
        function = make_function(bkm.logic, scope, ev, name=bkm.name, output_type=output_type)
        scope.setdefault(bkm.name, function)  # lets a BKM call itself
        return function

    def _function_output_type(self, model: m.Definitions, type_ref: str | None) -> str | None:
        """A BKM variable's typeRef names a function type; only a functionItem says its output."""
        if not type_ref:
            return None
        item = model.item_definition(type_ref)
        if item is not None and item.function_item is not None:
            return item.function_item.output_type_ref
        return None

    def _service_function(self, model: m.Definitions, service: m.DecisionService) -> FeelFunction:
        engine = self.engine
        params = [engine.element(h).name for h in (*service.input_data, *service.input_decisions)]

        elements = [engine.element(h) for h in (*service.input_data, *service.input_decisions)]

        def body(*args: Any) -> Any:
            ev = self.evaluator(model.namespace)
            for element, arg in zip(elements, args, strict=False):
                ok, _ = ev.conform(arg, _type_ref(element))
                if not ok:  # a FEEL call with a non-conforming argument is null (0085, 0082)
                    ev.warnings.append(
                        f"{service.name}: argument {element.name!r} = {arg!r} does not conform"
                    )
                    return None
            return engine.run_service(model, service, dict(zip(params, args, strict=False)), self.warnings)[0]

        return FeelFunction(params, body, name=service.name)


class DecisionEngine:
    """Evaluates the decisions of a set of DMN models (the first is the main model).

    >>> engine = DecisionEngine([load_dmn("tiered-approval.dmn")])   # doctest: +SKIP
    >>> engine.evaluate("Approval route", {"amount": 120000}).value  # doctest: +SKIP
    """

    def __init__(self, models: Sequence[m.Definitions]) -> None:
        self.models = ModelSet(models)
        self.compiler = Compiler()
        self.types = TypeSystem(self.models.by_namespace, self.compiler)
        for namespace, model in self.models.by_namespace.items():
            self.compiler.set_types(namespace, self.types.table(model))
        #: the main model's input data by name, with their typeRefs (the models never change)
        self.input_types: dict[str, str | None] = {
            e.name: e.type_ref for e in self.models.main.elements if isinstance(e, m.InputData)
        }
        #: the FEEL built-in type each of them declares (None: not a built-in, or no typeRef)
        self.input_builtins = {name: builtin_name(ref or "") for name, ref in self.input_types.items()}
        self._found: dict[tuple[str, str | None], tuple[m.Definitions, m.DrgElement]] = {}
        self._direct: dict[tuple[str, str | None], tuple[m.InputData, ...] | None] = {}
        self._requirements: dict[tuple[str, str], list[tuple[m.Definitions, m.DrgElement, str | None]]] = {}

    def requirements(
        self,
        model: m.Definitions,
        information: Sequence[m.Href],
        knowledge: Sequence[m.Href],
        element_id: str | None = None,
    ) -> list[tuple[m.Definitions, m.DrgElement, str | None]]:
        """Each required element with the model that owns it and the import name ``model`` knows
        it under (None: the same model); the models never change, so a decision's are found once."""
        key = (model.namespace, element_id) if element_id is not None else None
        found = self._requirements.get(key) if key is not None else None
        if found is None:
            found = [
                (
                    self.models.by_namespace[href.namespace],
                    self.element(href),
                    self.models.prefix(model, href.namespace),
                )
                for href in (*information, *knowledge)
            ]
            if key is not None:
                self._requirements[key] = found
        return found

    def element(self, href: m.Href) -> m.DrgElement:
        found = self.models.get(href)
        if found is None:  # ModelSet checked every reference at load time
            raise InvalidInput("unknown element {href!r}", href=f"{href.namespace}#{href.id}")
        return found

    def evaluate(
        self,
        decision: str,
        inputs: Mapping[str, Any],
        *,
        namespace: str | None = None,
        namespaced_inputs: Mapping[tuple[str, str], Any] | None = None,
    ) -> DecisionResult:
        """Evaluate ``decision`` (name or id; a decision service or BKM works too) on FEEL ``inputs``.

        ``namespaced_inputs`` gives input data of imported models as ``(namespace, name)``.
        """
        key = (decision, namespace)
        found = self._found.get(key)
        if found is None:  # the models never change: a name found once is found for good
            found = self._found[key] = self.models.find(decision, namespace=namespace)
        model, element = found
        if isinstance(element, m.DecisionService):
            return self.invoke_service(element.id, inputs, namespace=model.namespace)
        if isinstance(element, m.InputData):
            raise InvalidInput("{name!r} is input data, not a decision", name=element.name)
        run = _Run(self, inputs, namespaced_inputs or {})
        required = self._inputs_only(key, model, element)
        if required is not None:
            value = run.inputs_only(model, cast(m.Decision, element), required)
        else:
            value = run.value(model, element)
        return DecisionResult(
            element.id, element.name, value, dict(run.results), tuple(run.warnings), dict(run.matched)
        )

    def _inputs_only(
        self, key: tuple[str, str | None], model: m.Definitions, element: m.DrgElement
    ) -> tuple[m.InputData, ...] | None:
        """The input data a decision of the main model requires when that is all it requires (all of
        its own model: no import prefix), else None; worked out once per decision asked for."""
        if key in self._direct:
            return self._direct[key]
        found: tuple[m.InputData, ...] | None = None
        if (
            isinstance(element, m.Decision)
            and model is self.models.main
            and not element.required_decisions
            and not element.required_knowledge
            and all(h.namespace == model.namespace for h in element.required_inputs)
        ):
            required = tuple(self.element(h) for h in element.required_inputs)
            if all(isinstance(r, m.InputData) for r in required):
                found = cast(tuple[m.InputData, ...], required)
        self._direct[key] = found
        return found

    def invoke_service(
        self, service: str, inputs: Mapping[str, Any], *, namespace: str | None = None
    ) -> DecisionResult:
        """Invoke a decision service with its input data and input decisions given by name."""
        model, element = self.models.find(service, namespace=namespace)
        if not isinstance(element, m.DecisionService):
            raise InvalidInput("{name!r} is not a decision service", name=service)
        warnings: list[str] = []
        value, run = self.run_service(model, element, inputs, warnings)
        return DecisionResult(
            element.id, element.name, value, dict(run.results), tuple(warnings), dict(run.matched)
        )

    def run_service(
        self, model: m.Definitions, service: m.DecisionService, args: Mapping[str, Any], warnings: list[str]
    ) -> tuple[Any, _Run]:
        """Run the service in a fresh run whose input decisions are fixed to ``args`` (not evaluated)."""
        run = _Run(self, {}, {}, warnings)
        for href in (*service.input_data, *service.input_decisions):
            element = self.element(href)
            ev = run.evaluator(href.namespace)
            what = f"parameter {element.name!r} of {service.name!r}"
            run.memo[(href.namespace, href.id)] = ev.coerce(args.get(element.name), _type_ref(element), what)
        outputs = [(self.element(h), self.models.by_namespace[h.namespace]) for h in service.output_decisions]
        values = {el.name: run.value(owner, el) for el, owner in outputs}
        value: Any = next(iter(values.values())) if len(values) == 1 else values
        value = run.evaluator(model.namespace).coerce(
            value, _output_type(model, service), f"decision service {service.name!r}"
        )
        if len(outputs) == 1:  # the service's typed result is what its one output decision reports
            run.results[run.qualified(outputs[0][1], outputs[0][0].name)] = value
        return value, run


def _type_ref(element: m.DrgElement) -> str | None:
    return element.type_ref if isinstance(element, m.InputData | m.Decision) else None


def _output_type(model: m.Definitions, service: m.DecisionService) -> str | None:
    """A service's typeRef names a function type; only its functionItem says the output type."""
    item = model.item_definition(service.type_ref or "")
    if item is not None and item.function_item is not None:
        return item.function_item.output_type_ref
    return None
