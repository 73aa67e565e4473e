"""The process engine: a token-walking interpreter over the immutable specs of :mod:`isthmus.models`.

Pure domain code: the state of an instance is a JSON document (:class:`InstanceState`, versioned,
no copy of the model), and a step returns *effects* (tasks to open, service calls and timers to
queue, history lines) that the caller commits together with the new state::

    >>> from isthmus.engine import Definition, Interpreter, InstanceState
    >>> # definition = Definition("order", 1, parse_bpmn(xml).process("order"))
    >>> # step = Interpreter(definition, InstanceState("order", 1), now=now); step.start({"amount": 10})

See ``docs/engine.md`` for the elements executed and the durability rules around it.
"""

from __future__ import annotations

from isthmus.engine._definition import (
    Definition,
    EngineModelError,
    definition_of,
    parse_cycle,
    parse_duration,
    parse_instant,
)
from isthmus.engine._effects import (
    BpmnError,
    CallCancelled,
    CallStarted,
    Effect,
    Ended,
    EngineIncident,
    HistoryEvent,
    ServiceCall,
    TaskClosed,
    TaskOpened,
    TimerSet,
)
from isthmus.engine._interpreter import DecisionPort, Interpreter
from isthmus.engine._messages import (
    EscalationRule,
    MessageSubscription,
    Notification,
    has_messages,
    key_text,
    parse_escalation,
    process_starts,
    start_at,
    start_timer_due,
    subscriptions,
)
from isthmus.engine._messages import deliver as deliver_message
from isthmus.engine._records import (
    HISTORY_SYSTEM,
    HistoryLine,
    ProcessInstance,
    TaskQuery,
    TaskState,
    UserTask,
)
from isthmus.engine._state import (
    MIGRATIONS,
    ROOT_SCOPE,
    SCHEMA_VERSION,
    InstanceState,
    InstanceStatus,
    Scope,
    StateVersionError,
    Token,
    Wait,
    load_state,
    state_from_json,
    state_to_json,
)

__all__ = [
    "HISTORY_SYSTEM",
    "MIGRATIONS",
    "ROOT_SCOPE",
    "SCHEMA_VERSION",
    "BpmnError",
    "CallCancelled",
    "CallStarted",
    "DecisionPort",
    "Definition",
    "Effect",
    "Ended",
    "EngineIncident",
    "EngineModelError",
    "EscalationRule",
    "HistoryEvent",
    "HistoryLine",
    "InstanceState",
    "InstanceStatus",
    "Interpreter",
    "MessageSubscription",
    "Notification",
    "ProcessInstance",
    "Scope",
    "ServiceCall",
    "StateVersionError",
    "TaskClosed",
    "TaskOpened",
    "TaskQuery",
    "TaskState",
    "TimerSet",
    "Token",
    "UserTask",
    "Wait",
    "definition_of",
    "deliver_message",
    "has_messages",
    "key_text",
    "load_state",
    "parse_cycle",
    "parse_duration",
    "parse_escalation",
    "parse_instant",
    "process_starts",
    "start_at",
    "start_timer_due",
    "state_from_json",
    "state_to_json",
    "subscriptions",
]
