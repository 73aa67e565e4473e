"""The immutable specs a BPMN file is read into: what the engine runs and the validator checks.

Every spec is a frozen dataclass; mappings are read-only views. A spec never holds XML: the tree
stays in :class:`~isthmus.models.BpmnModel` so that export is lossless, and the specs are what
everything else (validation, diff, the engine) reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

#: The namespace of Isthmus' own extension attributes (``isthmus:owner``, ``isthmus:sla`` …).
ISTHMUS_NS = "https://isthmus.dev/schema/bpmn"


def frozen_map(items: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only copy of ``items`` (insertion order kept)."""
    return MappingProxyType(dict(items or {}))


class NodeKind(StrEnum):
    """The flow node types of BPMN 2.0 that Isthmus knows (the element's local name, snake case)."""

    START_EVENT = "start_event"
    END_EVENT = "end_event"
    TASK = "task"
    USER_TASK = "user_task"
    SERVICE_TASK = "service_task"
    SCRIPT_TASK = "script_task"
    BUSINESS_RULE_TASK = "business_rule_task"
    SEND_TASK = "send_task"
    RECEIVE_TASK = "receive_task"
    MANUAL_TASK = "manual_task"
    EXCLUSIVE_GATEWAY = "exclusive_gateway"
    PARALLEL_GATEWAY = "parallel_gateway"
    INCLUSIVE_GATEWAY = "inclusive_gateway"
    EVENT_BASED_GATEWAY = "event_based_gateway"
    INTERMEDIATE_CATCH_EVENT = "intermediate_catch_event"
    INTERMEDIATE_THROW_EVENT = "intermediate_throw_event"
    BOUNDARY_EVENT = "boundary_event"
    SUB_PROCESS = "sub_process"
    CALL_ACTIVITY = "call_activity"

    @property
    def is_gateway(self) -> bool:
        return self.value.endswith("_gateway")

    @property
    def is_event(self) -> bool:
        return self.value.endswith("_event")

    @property
    def is_activity(self) -> bool:
        return not (self.is_gateway or self.is_event)


class EventKind(StrEnum):
    """The event definition of an event (``none`` when it has none).

    ``conditional``, ``link``, ``compensate``, ``cancel`` and ``multiple`` (several definitions on one
    event) are read so that the validator can name them; the engine does not run them.
    """

    NONE = "none"
    MESSAGE = "message"
    TIMER = "timer"
    SIGNAL = "signal"
    ERROR = "error"
    ESCALATION = "escalation"
    TERMINATE = "terminate"
    CONDITIONAL = "conditional"
    LINK = "link"
    COMPENSATE = "compensate"
    CANCEL = "cancel"
    MULTIPLE = "multiple"


#: Event kinds the engine executes; anything else in an executable process is refused at deployment.
SUPPORTED_EVENT_KINDS = frozenset(
    {
        EventKind.NONE,
        EventKind.MESSAGE,
        EventKind.TIMER,
        EventKind.SIGNAL,
        EventKind.ERROR,
        EventKind.ESCALATION,
        EventKind.TERMINATE,
    }
)


class TimerKind(StrEnum):
    DATE = "date"
    DURATION = "duration"
    CYCLE = "cycle"


@dataclass(frozen=True, slots=True)
class TimerSpec:
    """``<timeDate>``/``<timeDuration>``/``<timeCycle>``: an ISO 8601 literal, or FEEL when ``feel``.

    ``expression`` never carries Zeebe's leading ``=``; ``feel`` says it had one.
    """

    kind: TimerKind
    expression: str
    feel: bool = False


@dataclass(frozen=True, slots=True)
class EventDefinition:
    """What triggers (catch) or is raised by (throw) an event. ``ref`` is the id of the
    ``<message>``/``<signal>``/``<error>``/``<escalation>`` it names, if any."""

    kind: EventKind
    ref: str | None = None
    timer: TimerSpec | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class RefSpec:
    """A root ``<message>``, ``<signal>``, ``<error>`` or ``<escalation>``.

    ``code`` is the ``errorCode``/``escalationCode``; ``correlation_key`` the FEEL of Zeebe's
    ``<zeebe:subscription correlationKey>`` on a message (without the ``=``).
    """

    id: str
    name: str
    code: str | None = None
    correlation_key: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class IoMapping:
    """One input or output mapping: FEEL ``source`` evaluated, its value stored under ``target``."""

    source: str
    target: str


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of a user task's form (from ``isthmus:formFields`` or ``camunda:formData``).

    ``type`` is one of ``string``, ``long``, ``number``, ``boolean``, ``date``, ``enum`` (the Camunda 7
    names); ``options`` are the allowed values of an enum.
    """

    id: str
    label: str = ""
    type: str = "string"
    required: bool = False
    options: tuple[str, ...] = ()
    default: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "options": list(self.options),
            "default": self.default,
        }


@dataclass(frozen=True, slots=True)
class NodeProperties:
    """What a node carries beyond its shape, merged from ``isthmus:``, Camunda 7 and Zeebe extensions.

    See ``docs/models.md`` for which attribute fills which field. FEEL texts (mappings, script,
    correlation key) never carry Zeebe's leading ``=``; a static Zeebe mapping value becomes a FEEL
    string literal. ``assignee``, ``due_date`` and ``follow_up`` are literal values (a user name; an
    ISO 8601 date-time, or a duration counted from the task's creation) unless they start with ``=``,
    which marks FEEL, as in Zeebe. ``task_type`` binds a service (or send) task: ``flow:<id>`` for an integration
    flow (``isthmus:flow``), else a handler name (``zeebe:taskDefinition type``, ``camunda:topic``,
    ``camunda:class`` …). ``called_version_binding`` is ``latest``, ``deployment`` or ``version:N``.
    """

    owner: str | None = None
    role: str | None = None
    sla: str | None = None
    candidate_groups: tuple[str, ...] = ()
    candidate_users: tuple[str, ...] = ()
    assignee: str | None = None
    due_date: str | None = None
    follow_up: str | None = None
    form_key: str | None = None
    form_fields: tuple[FormField, ...] = ()
    control_point: bool = False
    four_eyes: bool = False
    inputs: tuple[IoMapping, ...] = ()
    outputs: tuple[IoMapping, ...] = ()
    task_type: str | None = None
    retries: int | None = None
    decision_ref: str | None = None
    result_variable: str | None = None
    script: str | None = None
    script_format: str | None = None
    called_element: str | None = None
    called_version_binding: str = "latest"
    message_ref: str | None = None
    correlation_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=frozen_map)
    documentation: str | None = None
    escalate: str | None = None  # ``isthmus:escalate`` on a timer boundary: reassign/notify rules
    # ``isthmus:async`` / ``camunda:asyncBefore``: a service task always runs as a job, even when its
    # handler could run inside the step that reached it
    async_before: bool = False


@dataclass(frozen=True, slots=True)
class MultiInstanceSpec:
    """``<multiInstanceLoopCharacteristics>``: run the activity once per item or ``cardinality`` times.

    ``collection``, ``cardinality`` and ``completion_condition`` are FEEL; ``element_variable`` names
    the item inside each instance, ``output_element`` (FEEL) is gathered into ``output_collection``.
    """

    sequential: bool = False
    cardinality: str | None = None
    collection: str | None = None
    element_variable: str | None = None
    completion_condition: str | None = None
    output_collection: str | None = None
    output_element: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """A ``<sequenceFlow>``; ``condition`` is FEEL text without Zeebe's leading ``=``."""

    id: str
    name: str
    source: str
    target: str
    condition: str | None = None
    line: int = field(default=0, compare=False)
    condition_line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class UnsupportedElement:
    """An element (or event definition) Isthmus does not execute, with where it is."""

    id: str
    element: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One flow node. ``incoming``/``outgoing`` are sequence-flow ids, computed from the flows
    (the optional ``<incoming>``/``<outgoing>`` children are not trusted).

    ``cancel_activity`` is ``cancelActivity`` on a boundary event and ``isInterrupting`` on a start
    event (both default true). ``subprocess`` is the body of a sub-process (embedded or event).
    """

    id: str
    name: str
    kind: NodeKind
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()
    event: EventDefinition | None = None
    attached_to: str | None = None
    cancel_activity: bool = True
    default_flow: str | None = None
    props: NodeProperties = field(default_factory=NodeProperties)
    multi_instance: MultiInstanceSpec | None = None
    subprocess: ProcessSpec | None = None
    triggered_by_event: bool = False
    line: int = field(default=0, compare=False)
    element: str = ""

    @property
    def label(self) -> str:
        """The name, else the id: what a person sees in a task list or an event log."""
        return self.name or self.id


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """A ``<process>`` (or the body of a sub-process): its nodes and sequence flows by id.

    ``lanes`` maps a node id to the name of its (innermost) lane. ``nodes`` and ``flows`` hold this
    scope only; :meth:`walk` and :meth:`find` also look inside sub-processes.
    """

    id: str
    name: str
    is_executable: bool
    nodes: Mapping[str, NodeSpec] = field(default_factory=frozen_map)
    flows: Mapping[str, FlowSpec] = field(default_factory=frozen_map)
    lanes: Mapping[str, str] = field(default_factory=frozen_map)
    unsupported: tuple[UnsupportedElement, ...] = ()
    line: int = field(default=0, compare=False)

    @property
    def label(self) -> str:
        return self.name or self.id

    def start_events(self) -> tuple[NodeSpec, ...]:
        """The start events of this scope (not those of event sub-processes)."""
        return tuple(n for n in self.nodes.values() if n.kind is NodeKind.START_EVENT)

    def boundary_events(self, activity_id: str) -> tuple[NodeSpec, ...]:
        """The boundary events attached to ``activity_id`` (in this scope)."""
        return tuple(n for n in self.nodes.values() if n.attached_to == activity_id)

    def walk(self) -> Iterator[tuple[ProcessSpec, NodeSpec]]:
        """Every node at every depth with the scope that holds it, parents before children."""
        for node in self.nodes.values():
            yield self, node
            if node.subprocess is not None:
                yield from node.subprocess.walk()

    def walk_flows(self) -> Iterator[tuple[ProcessSpec, FlowSpec]]:
        """Every sequence flow at every depth with its scope."""
        for flow in self.flows.values():
            yield self, flow
        for node in self.nodes.values():
            if node.subprocess is not None:
                yield from node.subprocess.walk_flows()

    def find(self, node_id: str) -> NodeSpec | None:
        """The node with this id at any depth, else None."""
        return next((n for _, n in self.walk() if n.id == node_id), None)

    def scope_of(self, node_id: str) -> ProcessSpec | None:
        """The process or sub-process body that holds ``node_id``."""
        return next((s for s, n in self.walk() if n.id == node_id), None)
