"""The decision requirement graph across a set of models (DMN 1.5 §6.2, §6.3.2 imports).

Elements are addressed by ``(namespace, id)``; an ``href`` into another namespace must be backed by
an ``<import>`` of that model, whose name then prefixes the element's name in FEEL
(``myimport.Decision``). Cycles among information requirements make a model meaningless, so they
are refused when the set is built, naming the ids on the cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from isthmus.errors import InvalidInput, Location

from . import _model as m

Key = tuple[str, str]


class ModelSet:
    """Models keyed by namespace; the first one given is the *main* model."""

    def __init__(self, models: Sequence[m.Definitions]) -> None:
        if not models:
            raise InvalidInput("no DMN model given")
        self.main = models[0]
        self.by_namespace: dict[str, m.Definitions] = {}
        for model in models:
            self.by_namespace.setdefault(model.namespace, model)
        self._index: dict[Key, m.DrgElement] = {}
        for model in self.by_namespace.values():
            for element in model.elements:
                self._index[(model.namespace, element.id)] = element
        self._check_imports()
        self._check_references()
        check_cycles(self)

    def get(self, href: m.Href) -> m.DrgElement | None:
        return self._index.get((href.namespace, href.id))

    def find(self, id_or_name: str, *, namespace: str | None = None) -> tuple[m.Definitions, m.DrgElement]:
        """The element with this id or name: in ``namespace`` (default: the main model) first."""
        first = self.by_namespace.get(namespace or self.main.namespace, self.main)
        for model in (first, *self.by_namespace.values()):
            element = model.element(id_or_name)
            if element is not None:
                return model, element
        raise InvalidInput(
            "no decision, service or knowledge model named {name!r} in {model}",
            name=id_or_name,
            model=self.main.source or self.main.name,
        )

    def prefix(self, model: m.Definitions, namespace: str) -> str | None:
        """How ``model`` names the import of ``namespace`` (None: the same model)."""
        if namespace == model.namespace:
            return None
        for imp in model.imports:
            if imp.namespace == namespace:
                return imp.name
        return ""

    def _check_imports(self) -> None:
        for model in self.by_namespace.values():
            for imp in model.imports:
                if imp.namespace not in self.by_namespace:
                    raise InvalidInput(
                        "imported model {namespace} ({name!r}) is not among the loaded models",
                        location=Location(file=model.source),
                        namespace=imp.namespace,
                        name=imp.name,
                    )

    def _check_references(self) -> None:
        for model in self.by_namespace.values():
            for element in model.elements:
                for href in references(element):
                    if (href.namespace, href.id) not in self._index:
                        raise InvalidInput(
                            "{element!r} refers to {href!r}, which is not in the loaded models",
                            location=Location(file=model.source, line=element.line),
                            element=element.name,
                            href=f"{href.namespace}#{href.id}",
                        )


def references(element: m.DrgElement) -> Iterable[m.Href]:
    if isinstance(element, m.Decision):
        yield from element.required_decisions
        yield from element.required_inputs
        yield from element.required_knowledge
    elif isinstance(element, m.BusinessKnowledgeModel):
        yield from element.required_knowledge
    elif isinstance(element, m.DecisionService):
        yield from element.output_decisions
        yield from element.encapsulated_decisions
        yield from element.input_decisions
        yield from element.input_data


def check_cycles(models: ModelSet) -> None:
    """Refuse a cycle of required decisions (information requirements), naming its ids."""
    state: dict[Key, int] = {}  # 1 = on the current path, 2 = done

    def visit(key: Key, path: list[Key]) -> None:
        state[key] = 1
        element = models.get(m.Href(*key))
        for href in element.required_decisions if isinstance(element, m.Decision) else ():
            nxt = (href.namespace, href.id)
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], key, nxt] if nxt in path else [key, nxt]
                raise InvalidInput(
                    "the decision requirements form a cycle: {ids}", ids=" -> ".join(k[1] for k in cycle)
                )
            if nxt not in state:
                visit(nxt, [*path, key])
        state[key] = 2

    for namespace, model in models.by_namespace.items():
        for element in model.elements:
            key = (namespace, element.id)
            if isinstance(element, m.Decision) and key not in state:
                visit(key, [])
