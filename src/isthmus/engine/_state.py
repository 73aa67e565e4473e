"""The runtime state of one process instance: tokens, scopes and variables — never the model.

The state references its definition by key and version; the interpreter looks the nodes up in the
immutable :class:`~isthmus.models.ProcessSpec`. It is stored as one compact JSON document with a
``schema_version``; :func:`load_state` upgrades older documents through :data:`MIGRATIONS`, one
function per version step (the SpiffWorkflow serializer habit).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

try:  # a C JSON codec: the state is written and read back at every wait of every instance
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a bare install working
    orjson = None  # type: ignore[assignment]

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


# the enums by value, for loading: calling an enum class is a slow Python-level lookup
_WAITS: dict[str, Wait] = {w.value: w for w in Wait}


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
        return [self.id, self.node, self.scope, self.wait._value_, self.flow, self.activation, self.child]

    @classmethod
    def load(cls, raw: list[Any]) -> Token:
        wait = _WAITS.get(raw[3]) or Wait(raw[3])  # Wait(...) only to raise on an unknown value
        return cls(raw[0], raw[1], raw[2], wait, raw[4], raw[5], raw[6])


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
            # Token.dump inlined: this runs at every wait of every instance
            "tokens": [
                [t.id, t.node, t.scope, t.wait._value_, t.flow, t.activation, t.child] for t in self.tokens
            ],
            "done": self.completed,
            "status": self.status._value_,
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
    version = raw.get("v", 0)
    if version.__class__ is not int or version != SCHEMA_VERSION:  # not the current version's int
        version = int(version)
        if version > SCHEMA_VERSION:
            raise StateVersionError(f"instance state version {version} is newer than {SCHEMA_VERSION}")
        while version < SCHEMA_VERSION:
            raw = MIGRATIONS[version](raw)
            version += 1
    scopes = {s.id: s for s in map(Scope.load, raw["scopes"])} if "scopes" in raw else {}
    waits = _WAITS
    return InstanceState(
        raw["key"],
        raw["ver"],
        raw["vars"],
        # Token.load inlined: this runs at every wait of every instance
        [Token(t[0], t[1], t[2], waits.get(t[3]) or Wait(t[3]), t[4], t[5], t[6]) for t in raw["tokens"]],
        scopes,
        raw["done"],
        _STATUSES.get(raw["status"]) or InstanceStatus(raw["status"]),
        raw["next"],
        raw["act"],
        raw.get("error"),
    )


_STATUSES: dict[str, InstanceStatus] = {s.value: s for s in InstanceStatus}


def state_to_json(state: InstanceState) -> str:
    """:meth:`InstanceState.dump` as compact JSON text (what a store keeps between steps).

    Uses orjson when installed (about 15x faster than :mod:`json` on a typical state); values it
    cannot write (integers beyond 64 bits, non-text keys it cannot coerce) fall back to :mod:`json`.
    """
    raw = state.dump()
    if orjson is not None:
        try:
            return orjson.dumps(raw).decode()
        except TypeError:
            try:  # the slower mode, for variables with keys that are not text (as json writes them)
                return orjson.dumps(raw, option=orjson.OPT_NON_STR_KEYS).decode()
            except TypeError:
                pass
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False)


def state_from_json(text: str | bytes) -> InstanceState:
    """The inverse of :func:`state_to_json` (any version of the document: see :func:`load_state`)."""
    if orjson is not None:
        try:
            return load_state(orjson.loads(text))
        except orjson.JSONDecodeError:
            pass  # e.g. NaN written by json: json reads its own extensions back
    return load_state(json.loads(text))
