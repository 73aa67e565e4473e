"""BPMN 2.0 models: parse (hardened) into immutable specs, validate, export losslessly, diff.

>>> from isthmus.models import parse_bpmn, validate
>>> model = parse_bpmn(open("tests/data/bpmn/approval.bpmn", "rb").read())
>>> [n.id for n in model.process("approval").start_events()]
['start']
>>> validate(model)
[]

The specs (:class:`ProcessSpec`, :class:`NodeSpec`, :class:`FlowSpec` …) are what the engine runs;
:meth:`BpmnModel.to_xml` gives the document back with its diagram and vendor extensions intact.
See ``docs/models.md``.
"""

from isthmus.models._deployment import (
    KEY_MAX_LENGTH,
    DeployedProcess,
    InvalidModel,
    ProcessDraft,
    check_key,
    prepare_deployment,
    prepare_draft,
)
from isthmus.models._diff import Change, ElementDiff, ElementSummary, ProcessDiff, diff_processes
from isthmus.models._iso8601 import IsoCycle, IsoDuration, parse_datetime
from isthmus.models._model import BpmnModel, content_hash, parse_bpmn
from isthmus.models._properties import CAMUNDA_NAMESPACES, ZEEBE_NS, feel_text, juel_to_feel
from isthmus.models._reader import BPMN_NS, UNSUPPORTED_ELEMENTS
from isthmus.models._specs import (
    ISTHMUS_NS,
    SUPPORTED_EVENT_KINDS,
    EventDefinition,
    EventKind,
    FlowSpec,
    FormField,
    IoMapping,
    MultiInstanceSpec,
    NodeKind,
    NodeProperties,
    NodeSpec,
    ProcessSpec,
    RefSpec,
    TimerKind,
    TimerSpec,
    UnsupportedElement,
)
from isthmus.models._validation import ModelProblem, Severity, errors_of, feel_problems, validate
from isthmus.models._xml import MAX_BYTES, canonical, same_document

__all__ = [
    "BPMN_NS",
    "CAMUNDA_NAMESPACES",
    "ISTHMUS_NS",
    "KEY_MAX_LENGTH",
    "MAX_BYTES",
    "SUPPORTED_EVENT_KINDS",
    "UNSUPPORTED_ELEMENTS",
    "ZEEBE_NS",
    "BpmnModel",
    "Change",
    "DeployedProcess",
    "ElementDiff",
    "ElementSummary",
    "EventDefinition",
    "EventKind",
    "FlowSpec",
    "FormField",
    "InvalidModel",
    "IoMapping",
    "IsoCycle",
    "IsoDuration",
    "ModelProblem",
    "MultiInstanceSpec",
    "NodeKind",
    "NodeProperties",
    "NodeSpec",
    "ProcessDiff",
    "ProcessDraft",
    "ProcessSpec",
    "RefSpec",
    "Severity",
    "TimerKind",
    "TimerSpec",
    "UnsupportedElement",
    "canonical",
    "check_key",
    "content_hash",
    "diff_processes",
    "errors_of",
    "feel_problems",
    "feel_text",
    "juel_to_feel",
    "parse_bpmn",
    "parse_datetime",
    "prepare_deployment",
    "prepare_draft",
    "same_document",
    "validate",
]
