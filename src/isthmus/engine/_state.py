"""The runtime state of one process instance: tokens, scopes and variables — never the model.

The state references its definition by key and version; the interpreter looks the nodes up in the
immutable :class:`~isthmus.models.ProcessSpec`. It is stored as one compact JSON document with a
``schema_version``; :func:`load_state` upgrades older documents through :data:`MIGRATIONS`, one
function per version step (the SpiffWorkflow serializer habit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1
ROOT_SCOPE = 0


class InstanceStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    INCIDENT = "incident"


class Wait(StrEnum):
    """Why a token does not move: what the outside world must do to move it."""

    READY = ""  # not waiting: the interpreter moves it in this step
    TASK = "task"  # a user, manual or receive task, or a message catch
    SERVICE = "service"  # a service job is queued
    TIMER = "timer"  # a timer job is queued
    MESSAGE = "message"
    SIGNAL = "signal"
    JOIN = "join"  # arrived at a converging gateway
    SCOPE = "scope"  # an embedded subprocess or multi-instance body runs below it
    CALL = "call"  # a called instance runs
    EVENTS = "events"  # an event-based gateway waits for the first of its events


@dataclass(slots=True)
class Token:
    id: int
    node: str
    scope: int = ROOT_SCOPE
    wait: Wait = Wait.READY
    flow: str | None = None  # the flow it arrived by (converging joins count flows)
    activation: int = 0  # which activation of ``node`` this is (idempotency keys, timers)
    child: int | None = None  # the scope below it (Wait.SCOPE) or the called instance id

    def dump(self) -> list[Any]:
        return [self.id, self.node, self.scope, self.wait.value, self.flow, self.activation, self.child]

    @classmethod
    def load(cls, raw: list[Any]) -> Token:
        return cls(raw[0], raw[1], raw[2], Wait(raw[3]), raw[4], raw[5], raw[6])


@dataclass(slots=True)
class Scope:
    """A subprocess body, a multi-instance body, or one instance of a multi-instance body."""

    id: int
    parent: int
    owner: int  # the token waiting on this scope
    node: str  # the subprocess or multi-instance activity
    variables: dict[str, Any] = field(default_factory=dict)
    mi: dict[str, Any] | None = None  # multi-instance bookkeeping (items, next, done, outputs)

    def dump(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"id": self.id, "parent": self.parent, "owner": self.owner, "node": self.node}
        if self.variables:
            raw["vars"] = self.variables
        if self.mi is not None:
            raw["mi"] = self.mi
        return raw

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Scope:
        return cls(raw["id"], raw["parent"], raw["owner"], raw["node"], raw.get("vars", {}), raw.get("mi"))


@dataclass(slots=True)
class InstanceState:
    """Everything an instance needs to continue, in a JSON-able shape."""

    definition_key: str
    definition_version: int
    variables: dict[str, Any] = field(default_factory=dict)
    tokens: list[Token] = field(default_factory=list)
    scopes: dict[int, Scope] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    status: InstanceStatus = InstanceStatus.ACTIVE
    next_id: int = 1
    activations: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def activate(self, node: str) -> int:
        count = self.activations.get(node, 0) + 1
        self.activations[node] = count
        return count

    def token(self, token_id: int) -> Token | None:
        for token in self.tokens:
            if token.id == token_id:
                return token
        return None

    def dump(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "key": self.definition_key,
            "ver": self.definition_version,
            "vars": self.variables,
            "tokens": [t.dump() for t in self.tokens],
            "done": self.completed,
            "status": self.status.value,
            "next": self.next_id,
            "act": self.activations,
        }
        if self.scopes:
            raw["scopes"] = [s.dump() for s in self.scopes.values()]
        if self.error:
            raw["error"] = self.error
        return raw


def _v0_to_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (never released) had no activation counters."""
    return {**raw, "act": raw.get("act", {}), "v": 1}


#: ``MIGRATIONS[n]`` turns a version-``n`` document into version ``n + 1``.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}


class StateVersionError(ValueError):
    """A state document newer than this code (written by a later Isthmus)."""


def load_state(raw: dict[str, Any]) -> InstanceState:
    """Rebuild an :class:`InstanceState` from :meth:`InstanceState.dump` output of any version."""
    version = int(raw.get("v", 0))
    if version > SCHEMA_VERSION:
        raise StateVersionError(f"instance state version {version} is newer than {SCHEMA_VERSION}")
    while version < SCHEMA_VERSION:
        raw = MIGRATIONS[version](raw)
        version += 1
    scopes = [Scope.load(s) for s in raw.get("scopes", [])]
    return InstanceState(
        definition_key=raw["key"],
        definition_version=raw["ver"],
        variables=raw["vars"],
        tokens=[Token.load(t) for t in raw["tokens"]],
        scopes={s.id: s for s in scopes},
        completed=raw["done"],
        status=InstanceStatus(raw["status"]),
        next_id=raw["next"],
        activations=raw["act"],
        error=raw.get("error"),
    )
