"""The DMN TCK runner: test-case files (``*-test-*.xml``) against the models beside them.

The file format is the TCK's ``testCases.xsd``: ``<testCase>`` holds ``<inputNode>`` values and
``<resultNode>`` expectations; a value is ``<value xsi:type=…>`` (``xsi:nil`` for null),
``<list><item>…`` or ``<component name=…>`` (a context). Results are compared the way the TCK's
reference runners do: numbers by value within 1e-8, lists and contexts structurally,
temporal values by their FEEL string (so ``@Europe/Paris`` differs from ``+01:00``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

from isthmus.errors import InvalidInput, IsthmusError, Location
from isthmus.feel import compile_expression

from . import _model as m
from ._dmn_xml import _line, load_dmn, parse_xml
from ._engine import DecisionEngine

_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_NUMBER_TYPES = {"decimal", "double", "float", "integer", "int", "long", "short", "byte"}
_TEMPORAL = {"date": "date", "dateTime": "date and time", "time": "time", "duration": "duration"}
_TOLERANCE = Decimal("0.00000001")

Element = etree._Element


@dataclass(frozen=True, slots=True)
class TckResultNode:
    name: str
    expected: Any
    error_result: bool = False
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class TckTestCase:
    id: str
    inputs: Mapping[str, Any]
    namespaced_inputs: Mapping[tuple[str, str], Any]
    results: tuple[TckResultNode, ...]
    invocable: str | None = None
    kind: str = "decision"


@dataclass(frozen=True, slots=True)
class TckTestFile:
    path: Path
    model_name: str | None
    cases: tuple[TckTestCase, ...]


@dataclass(frozen=True, slots=True)
class TckCaseResult:
    """One expected value: passed or not, and why not."""

    folder: str
    test_file: str
    case_id: str
    result_node: str
    passed: bool
    reason: str = ""
    expected: Any = None
    actual: Any = None


@dataclass(frozen=True, slots=True)
class TckReport:
    results: tuple[TckCaseResult, ...] = field(default=())

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed


# -- reading test files --------------------------------------------------------------------------


def _local(element: Element) -> str:
    return etree.QName(element.tag).localname if isinstance(element.tag, str) else ""


def _kids(element: Element, name: str) -> list[Element]:
    return [c for c in element if _local(c) == name]


class _ValueReader:
    """Turns TCK value elements into FEEL values (temporal text through FEEL's own constructors)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._constructors = {name: compile_expression(f"{feel}(x)") for name, feel in _TEMPORAL.items()}

    def node(self, element: Element) -> Any:
        """The value held by an inputNode, expected, item or component element."""
        for child in element:
            tag = _local(child)
            if tag == "value":
                return self.scalar(child)
            if tag == "list":
                return [self.node(item) for item in _kids(child, "item")]
        components = _kids(element, "component")
        if components:
            return {c.get("name") or "": self.node(c) for c in components}
        return None

    def scalar(self, element: Element) -> Any:
        if element.get(_XSI_NIL) == "true":
            return None
        text = element.text or ""
        xsi_type = (element.get(_XSI_TYPE) or "").rpartition(":")[2]
        if xsi_type in _NUMBER_TYPES:
            return self._number(text.strip(), element)
        if xsi_type == "boolean":
            return text.strip() == "true"
        if xsi_type in _TEMPORAL:
            warnings: list[str] = []
            return self._constructors[xsi_type].evaluate({"x": text.strip()}, warnings=warnings)
        if len(element) and not text.strip():
            return self.node(element)
        return text

    def _number(self, text: str, element: Element) -> Any:
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise InvalidInput(
                "not a number: {text!r}",
                location=Location(file=self.source, line=_line(element)),
                text=text,
            ) from None
        return value if value.is_finite() else None


def read_test_file(path: Path) -> TckTestFile:
    """Parse one TCK ``*-test-*.xml`` file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "cannot read the file: {reason}",
            location=Location(file=str(path)),
            path=str(path),
            reason=exc.strerror or str(exc),
        ) from None
    root = parse_xml(data, source=str(path))
    reader = _ValueReader(str(path))
    model_name = next((c.text.strip() for c in _kids(root, "modelName") if c.text), None)
    cases = tuple(_test_case(c, reader) for c in _kids(root, "testCase"))
    return TckTestFile(path, model_name, cases)


def _test_case(element: Element, reader: _ValueReader) -> TckTestCase:
    inputs: dict[str, Any] = {}
    namespaced: dict[tuple[str, str], Any] = {}
    for node in _kids(element, "inputNode"):
        name = node.get("name") or ""
        value = reader.node(node)
        if node.get("namespace"):
            namespaced[(node.get("namespace") or "", name)] = value
        else:
            inputs[name] = value
    results = []
    for node in _kids(element, "resultNode"):
        expected = _kids(node, "expected")
        results.append(
            TckResultNode(
                name=node.get("name") or "",
                expected=reader.node(expected[0]) if expected else None,
                error_result=node.get("errorResult") == "true",
                namespace=node.get("namespace"),
            )
        )
    return TckTestCase(
        id=element.get("id") or element.get("name") or "",
        inputs=inputs,
        namespaced_inputs=namespaced,
        results=tuple(results),
        invocable=element.get("invocableName"),
        kind=element.get("type") or "decision",
    )


# -- comparing -----------------------------------------------------------------------------------


def tck_equal(expected: Any, actual: Any) -> bool:
    """Equality as the TCK reference runners define it (numbers within 1e-8, structural lists)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, Decimal | int) and isinstance(actual, Decimal | int):
        return abs(Decimal(expected) - Decimal(actual)) < _TOLERANCE
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(tck_equal, expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return len(expected) == len(actual) and all(
            k in actual and tck_equal(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, dt.date | dt.time) and isinstance(actual, dt.date | dt.time):
        return type(expected) is type(actual) and _feel_string(expected) == _feel_string(actual)
    return bool(type(expected) is type(actual) and expected == actual)


def _feel_string(value: Any) -> str:
    from isthmus.feel import from_feel

    return str(from_feel(value))


# -- running -------------------------------------------------------------------------------------


def test_folders(directory: Path) -> Iterator[Path]:
    """Every folder under ``directory`` (itself included) that holds ``*-test-*.xml`` files."""
    if not directory.is_dir():
        raise InvalidInput("not a directory", location=Location(file=str(directory)))
    folders = {p.parent for p in directory.rglob("*-test-*.xml")}
    yield from sorted(folders)


def run_tck(directory: str | Path) -> TckReport:
    """Run every TCK test folder under ``directory``; one result per expected value.

    Raises:
        InvalidInput / SyntaxProblem: a test file cannot be read (models that fail to load only
        fail their own cases, so one bad model does not hide the rest of the suite).
    """
    root = Path(directory)
    results: list[TckCaseResult] = []
    for folder in test_folders(root):
        results.extend(run_folder(folder, root))
    return TckReport(tuple(results))


def run_folder(folder: Path, root: Path | None = None) -> list[TckCaseResult]:
    label = str(folder.relative_to(root)) if root is not None and folder != root else folder.name
    models, error = _load_models(folder)
    results: list[TckCaseResult] = []
    for test_path in sorted(folder.glob("*-test-*.xml")):
        test_file = read_test_file(test_path)
        engine, load_error = _engine_for(models, test_file.model_name, error)
        for case in test_file.cases:
            results.extend(_run_case(engine, load_error, case, label, test_path.name))
    return results


def _load_models(folder: Path) -> tuple[dict[str, m.Definitions], str | None]:
    models: dict[str, m.Definitions] = {}
    for path in sorted(folder.glob("*.dmn")):
        try:
            models[path.name] = load_dmn(path)
        except IsthmusError as exc:
            return models, exc.message
    return models, None


def _engine_for(
    models: dict[str, m.Definitions], model_name: str | None, error: str | None
) -> tuple[DecisionEngine | None, str | None]:
    if error is not None:
        return None, error
    if not models:
        return None, "no .dmn model in the folder"
    main = models.get(model_name or "") or next(iter(models.values()))
    others = [d for d in models.values() if d is not main]
    try:
        return DecisionEngine([main, *others]), None
    except IsthmusError as exc:
        return None, exc.message


def _run_case(
    engine: DecisionEngine | None, load_error: str | None, case: TckTestCase, folder: str, file: str
) -> Iterator[TckCaseResult]:
    for node in case.results:

        def result(
            passed: bool, reason: str = "", actual: Any = None, node: TckResultNode = node
        ) -> TckCaseResult:
            return TckCaseResult(folder, file, case.id, node.name, passed, reason, node.expected, actual)

        if engine is None:
            yield result(False, f"model did not load: {load_error}")
            continue
        try:
            actual = _actual(engine, case, node)
        except Exception as exc:
            expected_error = node.error_result and node.expected is None
            yield result(expected_error, "" if expected_error else f"{type(exc).__name__}: {exc}")
            continue
        if tck_equal(node.expected, actual):
            yield result(True, actual=actual)
        else:
            yield result(False, f"expected {node.expected!r}, got {actual!r}", actual)


def _actual(engine: DecisionEngine, case: TckTestCase, node: TckResultNode) -> Any:
    if case.kind == "decisionService" and case.invocable:
        outcome = engine.invoke_service(case.invocable, case.inputs)
        if node.name in outcome.results:
            return outcome.results[node.name]
        return outcome.value
    return engine.evaluate(
        node.name, case.inputs, namespace=node.namespace, namespaced_inputs=case.namespaced_inputs
    ).value
