"""Node properties from three dialects: Isthmus' own attributes, Camunda 7 and Camunda 8 (Zeebe).

Precedence, when a model carries several: ``isthmus:`` first (what our modeler writes), then Zeebe,
then Camunda 7 — so a Camunda model opened and annotated in Isthmus keeps its Camunda attributes
but runs with ours. Camunda 7 expressions are JUEL: ``${name}`` becomes the FEEL name ``name``,
plain text a FEEL string; anything else is kept as written, and the validator refuses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from isthmus.models._specs import (
    ISTHMUS_NS,
    FormField,
    IoMapping,
    MultiInstanceSpec,
    NodeProperties,
    frozen_map,
)
from isthmus.models._xml import Element, elements, line_of, local_name, namespace_of, text_of

#: Camunda 7 and the engines that share its attribute names (Activiti, Flowable).
CAMUNDA_NAMESPACES = frozenset(
    {"http://camunda.org/schema/1.0/bpmn", "http://activiti.org/bpmn", "http://flowable.org/bpmn"}
)
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_JUEL_NAME = re.compile(r"^\$\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}$")
_TRUE = frozenset({"true", "1", "yes"})


def feel_text(text: str | None) -> str | None:
    """Zeebe writes FEEL as ``=expr``; strip the ``=`` (and surrounding blanks). None stays None."""
    if text is None:
        return None
    stripped = text.strip()
    return stripped[1:].strip() if stripped.startswith("=") else stripped


def zeebe_value(text: str | None) -> str | None:
    """A Zeebe attribute that takes FEEL or a static value: ``=expr`` → ``expr``, ``text`` → ``"text"``."""
    if text is None:
        return None
    stripped = text.strip()
    return feel_text(stripped) if stripped.startswith("=") else json.dumps(text, ensure_ascii=False)


def juel_to_feel(text: str | None) -> str | None:
    """A Camunda 7 value as FEEL: ``${a.b}`` → ``a.b``, ``plain`` → ``"plain"``, other JUEL kept."""
    if text is None:
        return None
    value = text.strip()
    name = _JUEL_NAME.match(value)
    if name:
        return name.group(1)
    if "${" in value or "#{" in value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(slots=True)
class _Attributes:
    """The extension attributes of one element, by dialect (local name → value)."""

    isthmus: dict[str, str] = field(default_factory=dict)
    camunda: dict[str, str] = field(default_factory=dict)
    zeebe: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, element: Element) -> _Attributes:
        found = cls()
        for key, raw in element.attrib.items():
            name, value = str(key), str(raw)
            if not name.startswith("{"):
                continue
            namespace, _, local = name[1:].partition("}")
            if namespace == ISTHMUS_NS:
                found.isthmus[local] = value
            elif namespace in CAMUNDA_NAMESPACES:
                found.camunda[local] = value
            elif namespace == ZEEBE_NS:
                found.zeebe[local] = value
        return found


def extension_elements(element: Element) -> Iterator[Element]:
    """The elements inside ``<extensionElements>`` (any namespace)."""
    for extensions in elements(element, "extensionElements"):
        yield from elements(extensions)


def _extensions(element: Element, namespaces: frozenset[str], name: str) -> list[Element]:
    return [e for e in extension_elements(element) if local_name(e) == name and namespace_of(e) in namespaces]


def _zeebe(element: Element, name: str) -> Element | None:
    found = _extensions(element, frozenset({ZEEBE_NS}), name)
    return found[0] if found else None


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


class PropertyReader:
    """Reads :class:`NodeProperties` of one flow node; ``problems`` collects unreadable values
    (e.g. ``isthmus:formFields`` that is not JSON) as ``(line, message)`` for the validator."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []

    def read(self, element: Element, *, lane: str | None, messages: dict[str, str | None]) -> NodeProperties:
        attrs = _Attributes.of(element)
        i, c = attrs.isthmus, attrs.camunda
        assignment = _zeebe(element, "assignmentDefinition")
        schedule = _zeebe(element, "taskSchedule")
        form = _zeebe(element, "formDefinition")
        task_definition = _zeebe(element, "taskDefinition")
        message_ref = element.get("messageRef")
        return NodeProperties(
            owner=i.get("owner"),
            role=_first(i.get("role"), lane),
            sla=i.get("sla"),
            candidate_groups=_split(
                _first(
                    i.get("candidateGroups"), _get(assignment, "candidateGroups"), c.get("candidateGroups")
                )
            ),
            candidate_users=_split(
                _first(i.get("candidateUsers"), _get(assignment, "candidateUsers"), c.get("candidateUsers"))
            ),
            assignee=_first(i.get("assignee"), feel_text(_get(assignment, "assignee")), c.get("assignee")),
            due_date=_first(i.get("dueDate"), feel_text(_get(schedule, "dueDate")), c.get("dueDate")),
            follow_up=_first(
                i.get("followUpDate"), feel_text(_get(schedule, "followUpDate")), c.get("followUpDate")
            ),
            form_key=_first(i.get("formKey"), _get(form, "formKey"), _get(form, "formId"), c.get("formKey")),
            form_fields=self._form_fields(element, i.get("formFields")),
            control_point=i.get("controlPoint", "").lower() in _TRUE,
            four_eyes=i.get("fourEyes", "").lower() in _TRUE,
            inputs=self._mappings(element, "input"),
            outputs=self._mappings(element, "output"),
            task_type=_task_type(i, c, task_definition),
            retries=self._retries(element, i.get("retries") or _get(task_definition, "retries")),
            decision_ref=_decision_ref(element, i, c),
            result_variable=_result_variable(element, i, c),
            script=_script(element),
            script_format=_script_format(element),
            called_element=_called_element(element, i),
            called_version_binding=_version_binding(element, i, c),
            message_ref=message_ref,
            correlation_key=_first(
                feel_text(i.get("correlationKey")), messages.get(message_ref) if message_ref else None
            ),
            headers=_headers(element),
            documentation=_documentation(element),
            escalate=i.get("escalate"),
            async_before=(_first(i.get("async"), c.get("asyncBefore")) or "").lower() in _TRUE,
        )

    def _retries(self, element: Element, value: str | None) -> int | None:
        if value is None:
            return None
        try:
            return int(feel_text(value) or "")
        except ValueError:
            self.problems.append((line_of(element), f"retries must be a whole number, not {value!r}"))
            return None

    def _form_fields(self, element: Element, text: str | None) -> tuple[FormField, ...]:
        if text is not None:
            return self._json_form_fields(element, text)
        fields: list[FormField] = []
        for data in _extensions(element, CAMUNDA_NAMESPACES, "formData"):
            for item in elements(data, "formField"):
                required = any(
                    (constraint.get("name") or "") == "required"
                    for validation in elements(item, "validation")
                    for constraint in elements(validation, "constraint")
                )
                options = tuple(v.get("id") or v.get("name") or "" for v in elements(item, "value"))
                fields.append(
                    FormField(
                        id=item.get("id") or "",
                        label=item.get("label") or "",
                        type=item.get("type") or "string",
                        required=required,
                        options=options,
                        default=item.get("defaultValue"),
                    )
                )
        return tuple(fields)

    def _json_form_fields(self, element: Element, text: str) -> tuple[FormField, ...]:
        try:
            data = json.loads(text)
            if not isinstance(data, list):
                raise TypeError("not a list")
            return tuple(_form_field(item) for item in data)
        except (ValueError, TypeError, KeyError) as exc:
            self.problems.append(
                (line_of(element), f"isthmus:formFields must be a JSON list of fields with an id ({exc})")
            )
            return ()

    def _mappings(self, element: Element, direction: str) -> tuple[IoMapping, ...]:
        found: list[IoMapping] = []
        for mapping in _extensions(element, frozenset({ZEEBE_NS}), "ioMapping"):
            for item in elements(mapping, direction):
                source, target = item.get("source"), item.get("target")
                if source is not None and target:
                    found.append(IoMapping(zeebe_value(source) or '""', target))
        for mapping in _extensions(element, CAMUNDA_NAMESPACES, "inputOutput"):
            for item in elements(mapping, f"{direction}Parameter"):
                name = item.get("name")
                if name:
                    found.append(IoMapping(juel_to_feel(item.text or "") or '""', name))
        return tuple(found)

    def multi_instance(self, element: Element) -> MultiInstanceSpec | None:
        loop = next(elements(element, "multiInstanceLoopCharacteristics"), None)
        if loop is None:
            return None
        zeebe = _zeebe(loop, "loopCharacteristics")
        c = _Attributes.of(loop).camunda
        cardinality = next(elements(loop, "loopCardinality"), None)
        completion = next(elements(loop, "completionCondition"), None)
        collection = _get(zeebe, "inputCollection")
        return MultiInstanceSpec(
            sequential=(loop.get("isSequential") or "").lower() == "true",
            cardinality=feel_text(cardinality.text) if cardinality is not None and cardinality.text else None,
            collection=feel_text(collection) if collection else juel_to_feel(c.get("collection")),
            element_variable=_get(zeebe, "inputElement") or c.get("elementVariable"),
            completion_condition=(
                feel_text(completion.text) if completion is not None and completion.text else None
            ),
            output_collection=_get(zeebe, "outputCollection"),
            output_element=feel_text(_get(zeebe, "outputElement")),
            line=line_of(loop),
        )


def _get(element: Element | None, attribute: str) -> str | None:
    return None if element is None else element.get(attribute)


def _form_field(item: object) -> FormField:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        raise KeyError("every field needs an id")
    options = item.get("options") or ()
    return FormField(
        id=item["id"],
        label=str(item.get("label") or ""),
        type=str(item.get("type") or "string"),
        required=bool(item.get("required", False)),
        options=tuple(str(o) for o in options),
        default=None if item.get("default") is None else str(item["default"]),
    )


def _task_type(i: dict[str, str], c: dict[str, str], task_definition: Element | None) -> str | None:
    if i.get("flow"):
        return f"flow:{i['flow']}"
    if i.get("handler"):
        return i["handler"]
    zeebe_type = feel_text(_get(task_definition, "type"))
    if zeebe_type:
        return zeebe_type
    if c.get("type") == "external" and c.get("topic"):
        return c["topic"]
    return _first(c.get("class"), c.get("delegateExpression"), c.get("expression"), c.get("topic"))


def _decision_ref(element: Element, i: dict[str, str], c: dict[str, str]) -> str | None:
    called = _zeebe(element, "calledDecision")
    return _first(i.get("decisionRef"), _get(called, "decisionId"), c.get("decisionRef"))


def _result_variable(element: Element, i: dict[str, str], c: dict[str, str]) -> str | None:
    called, script = _zeebe(element, "calledDecision"), _zeebe(element, "script")
    return _first(
        i.get("resultVariable"),
        _get(called, "resultVariable"),
        _get(script, "resultVariable"),
        c.get("resultVariable"),
    )


def _script(element: Element) -> str | None:
    zeebe = _zeebe(element, "script")
    if zeebe is not None and zeebe.get("expression"):
        return feel_text(zeebe.get("expression"))
    script = next(elements(element, "script"), None)
    return feel_text(script.text) if script is not None and script.text else None


def _script_format(element: Element) -> str | None:
    if _zeebe(element, "script") is not None:
        return "feel"
    return element.get("scriptFormat")


def _called_element(element: Element, i: dict[str, str]) -> str | None:
    zeebe = _zeebe(element, "calledElement")
    return _first(i.get("calledElement"), feel_text(_get(zeebe, "processId")), element.get("calledElement"))


def _version_binding(element: Element, i: dict[str, str], c: dict[str, str]) -> str:
    if i.get("versionBinding"):
        return i["versionBinding"]
    zeebe = _zeebe(element, "calledElement")
    binding = _get(zeebe, "bindingType")
    if binding in ("latest", "deployment"):
        return binding
    if binding == "versionTag" and _get(zeebe, "versionTag"):
        return f"version_tag:{_get(zeebe, 'versionTag')}"
    camunda = c.get("calledElementBinding")
    if camunda == "version" and c.get("calledElementVersion"):
        return f"version:{c['calledElementVersion']}"
    return camunda if camunda in ("latest", "deployment") else "latest"


def _headers(element: Element) -> Mapping[str, str]:
    headers = {
        h.get("key") or "": h.get("value") or ""
        for block in _extensions(element, frozenset({ZEEBE_NS}), "taskHeaders")
        for h in elements(block, "header")
    }
    return frozen_map(headers)


def _documentation(element: Element) -> str | None:
    texts = [text_of(d).strip() for d in elements(element, "documentation")]
    return "\n".join(t for t in texts if t) or None
