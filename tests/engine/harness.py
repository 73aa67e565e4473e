"""Run a model on the pure engine, the way the service does, with a save/restore after every step.

Every step dumps the state to JSON, loads it back and checks the copy dumps the same (SpiffWorkflow's
``BpmnWorkflowTestCase`` habit): whatever a scenario does, the persisted form loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from isthmus.engine import (
    Definition,
    Effect,
    InstanceState,
    Interpreter,
    ServiceCall,
    TaskClosed,
    TaskOpened,
    TimerSet,
    definition_of,
    load_state,
)
from isthmus.models import parse_bpmn

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def load(name: str, key: str | None = None, version: int = 1) -> Definition:
    model = parse_bpmn((DATA / name).read_bytes(), source=name)
    return definition_of(key or name.removesuffix(".bpmn"), version, model)


class Decisions:
    def __init__(self, table: Callable[[Mapping[str, Any]], Any]) -> None:
        self._table = table

    def decide(self, decision_ref: str, variables: Mapping[str, Any]) -> Any:
        return self._table(variables)


class Run:
    """One instance on the pure engine; ``tasks``/``services``/``timers`` are what is open."""

    def __init__(self, definition: Definition, decisions: Decisions | None = None) -> None:
        self.d = definition
        self.decisions = decisions
        self.state = InstanceState(definition.key, definition.version)
        self.now = T0
        self.tasks: dict[int, tuple[str, int]] = {}
        self.services: dict[int, tuple[str, int]] = {}
        self.timers: list[TimerSet] = []
        self.effects: list[Effect] = []
        self.restores = 0

    def _step(self, action: Callable[[Interpreter], object]) -> None:
        walk = Interpreter(self.d, self.state, now=self.now, decisions=self.decisions, actor="tester")
        action(walk)
        for effect in walk.effects:
            self.effects.append(effect)
            if isinstance(effect, TaskOpened):
                self.tasks[effect.token] = (effect.node, effect.activation)
            elif isinstance(effect, TaskClosed):
                self.tasks.pop(effect.token, None)
            elif isinstance(effect, ServiceCall):
                self.services[effect.token] = (effect.node, effect.activation)
            elif isinstance(effect, TimerSet):
                self.timers.append(effect)
        self.save_restore()

    def save_restore(self) -> None:
        before = self.state.dump()
        text = json.dumps(before, sort_keys=True)
        restored = load_state(json.loads(text))
        assert restored.dump() == before
        self.state = restored
        self.restores += 1

    def start(self, **variables: Any) -> Run:
        self._step(lambda w: w.start(variables))
        return self

    def task(self, node: str) -> int:
        found = [t for t, (n, _) in self.tasks.items() if n == node]
        assert found, f"no open task at {node}; open: {sorted(n for n, _ in self.tasks.values())}"
        return found[0]

    def complete(self, node: str, **variables: Any) -> Run:
        token = self.task(node)
        activation = self.tasks.pop(token)[1]
        self._step(lambda w: w.complete(token, variables, activation))
        return self

    def serve(self, node: str, result: Mapping[str, Any] | None = None, error: str | None = None) -> Run:
        token = next(t for t, (n, _) in self.services.items() if n == node)
        activation = self.services.pop(token)[1]
        if error is not None:
            self._step(lambda w: w.throw_error(token, error, activation))
        else:
            self._step(lambda w: w.complete(token, dict(result or {}), activation))
        return self

    def advance(self, delta: timedelta) -> Run:
        """Move the clock and fire the timers that came due, in due order."""
        until = self.now + delta
        while True:
            due = sorted((t for t in self.timers if t.due <= until), key=lambda t: t.due)
            if not due:
                self.now = until
                return self
            timer = due[0]
            self.timers.remove(timer)
            self.now = max(self.now, timer.due)  # a worker runs the job when it comes due
            self._fire(timer)

    def _fire(self, timer: TimerSet) -> None:
        self._step(lambda w: w.fire_timer(timer.token, timer.node, timer.activation, timer.fired, timer.due))

    def message(self, name: str, **variables: Any) -> Run:
        self._step(lambda w: w.correlate(name, variables))
        return self

    def signal(self, name: str) -> Run:
        self._step(lambda w: w.signal(name, {}))
        return self

    @property
    def completed(self) -> list[str]:
        return self.state.completed

    @property
    def status(self) -> str:
        return self.state.status.value
