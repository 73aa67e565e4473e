"""Token-based replay of a log on a Petri net — a port of pm4py's default token replay
(``algo/conformance/tokenreplay/variants/token_replay.py``, default parameters) so fitness per case
and overall equal ``pm4py.conformance_diagnostics_token_based_replay`` and
``pm4py.fitness_token_based_replay``.

Per trace: fire each event's transition; if it is not enabled, first try to enable it by firing
silent transitions along the shortest silent paths between marked places and the places that lack a
token (at most two levels of recursion, as pm4py); tokens still missing are added and counted as
*missing*. At the end silent transitions are fired towards the final marking; tokens left anywhere
but the final marking are *remaining*. Events whose activity is not in the model are skipped.

    trace fitness = ½ (1 − missing / consumed) + ½ (1 − remaining / produced)
    log fitness   = the same formula over the sums of all traces

A trace is *fit* when it had no missing and no remaining tokens. Replay is done once per variant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from isthmus.mining._bpmn_net import PetriNet, Place, Transition

Marking = dict[str, int]
Paths = dict[str, dict[str, list[Transition]]]
MAX_REC_DEPTH = 50
MAX_REC_DEPTH_HIDDEN = 2
MAX_IT_FINAL = 5


def _enabled(t: Transition, m: Marking) -> bool:
    return all(m.get(p.name, 0) >= 1 for p in t.inputs)


def _fire(t: Transition, m: Marking) -> Marking:
    out = dict(m)
    for p in t.inputs:
        out[p.name] -= 1
        if out[p.name] == 0:
            del out[p.name]
    for p in t.outputs:
        out[p.name] = out.get(p.name, 0) + 1
    return out


def silent_paths(net: PetriNet) -> Paths:
    """For each place, the shortest chain of silent transitions to every place it reaches
    (pm4py's ``get_places_shortest_path_by_hidden``, depth-first, first-found wins ties)."""
    paths: Paths = {}
    for p in net.places.values():
        _walk(p.name, p, paths, [], 0)
    return paths


def _walk(origin: str, current: Place, paths: Paths, chain: list[Transition], depth: int) -> None:
    if depth > MAX_REC_DEPTH:
        return
    known = paths.setdefault(origin, {})
    for t in current.outputs:
        if t.label is not None:
            continue
        for p2 in t.outputs:
            if p2.name not in known or len(chain) + 1 < len(known[p2.name]):
                longer = [*chain, t]
                known[p2.name] = longer
                _walk(origin, p2, paths, longer, depth + 1)


def _paths_between(marked: Iterable[str], wanted: Iterable[str], paths: Paths) -> list[list[Transition]]:
    found = [
        paths[p1][p2] for p1 in sorted(marked) for p2 in sorted(wanted) if p1 in paths and p2 in paths[p1]
    ]
    return sorted(found, key=len)


class _Replay:
    """The state of replaying one trace."""

    def __init__(self, net: PetriNet, paths: Paths) -> None:
        self.net, self.paths = net, paths
        self.marking: Marking = dict(net.initial)
        self.fired: list[Transition] = []
        self.missing = 0
        self.consumed = 0
        self.produced = sum(net.initial.values())
        self.problems: list[Transition] = []

    def _count(self, t: Transition) -> None:
        self.consumed += len(t.inputs)
        self.produced += len(t.outputs)

    def event(self, t: Transition) -> None:
        if not _enabled(t, self.marking):
            before = len(self.fired)
            self.marking, self.fired = _apply_hidden(
                t, dict(self.marking), self.paths, list(self.fired), 0, set()
            )
            for silent in self.fired[before:]:
                self._count(silent)
        if not _enabled(t, self.marking):
            self.problems.append(t)
            for p in t.inputs:
                if self.marking.get(p.name, 0) < 1:
                    self.missing += 1 - self.marking.get(p.name, 0)
                    self.marking[p.name] = self.marking.get(p.name, 0) + 1
        self._count(t)
        self.marking = _fire(t, self.marking)
        self.fired.append(t)

    def finish(self) -> None:
        final = self.net.final
        for _ in range(MAX_IT_FINAL):
            if set(final) <= set(self.marking):
                break
            for group in _paths_between(self.marking, final, self.paths):
                for t in group:
                    if _enabled(t, self.marking):
                        self._step(t)
                if set(final) <= set(self.marking):
                    break
        if not set(final) <= set(self.marking) and len(final) == 1:
            sink = next(iter(final))
            routes = sorted(
                (self.paths[place][sink] for place in self.marking if sink in self.paths.get(place, {})),
                key=len,
            )
            for _ in range(MAX_IT_FINAL):
                for route in routes:
                    for t in route:
                        if not _enabled(t, self.marking):
                            break
                        self._step(t)

    def _step(self, t: Transition) -> None:
        self.marking = _fire(t, self.marking)
        self.fired.append(t)
        self._count(t)


def _apply_hidden(
    t: Transition, marking: Marking, paths: Paths, fired: list[Transition], depth: int, visited: set[str]
) -> tuple[Marking, list[Transition]]:
    """pm4py's ``apply_hidden_trans``: fire silent transitions so that ``t`` becomes enabled."""
    if depth >= MAX_REC_DEPTH_HIDDEN or t.name in visited:
        return marking, fired
    visited.add(t.name)
    at_start = dict(marking)
    lacking = [p.name for p in t.inputs if marking.get(p.name, 0) < 1]
    groups = _paths_between(marking, lacking, paths)
    if not groups:
        return marking, fired
    marking = _enable_along(t, marking, groups, fired, visited)
    if not _enabled(t, marking):
        for group in _paths_between(marking, lacking, paths):
            for t4 in group:
                if t4 is t or t4.name in visited:
                    continue
                if not _enabled(t4, marking):
                    marking, fired = _apply_hidden(t4, marking, paths, fired, depth + 1, visited)
                if _enabled(t4, marking):
                    marking = _fire(t4, marking)
                    fired.append(t4)
                    visited.add(t4.name)
    if not _enabled(t, marking) and marking != at_start:
        marking, fired = _apply_hidden(t, marking, paths, fired, depth + 1, visited)
    return marking, fired


def _enable_along(
    t: Transition,
    marking: Marking,
    groups: list[list[Transition]],
    fired: list[Transition],
    visited: set[str],
) -> Marking:
    """pm4py's ``enable_hidden_transitions`` (the non-exhaustive round robin over the paths)."""
    cursor = [0] * len(groups)
    z = 0
    while True:
        g = z % len(groups)
        changed = False
        for _ in range(cursor[g], len(groups[g])):
            t3 = groups[g][cursor[g]]
            if t3 is not t and _enabled(t3, marking) and t3.name not in visited:
                marking = _fire(t3, marking)
                fired.append(t3)
                visited.add(t3.name)
                changed = True
            cursor[g] += 1
            if _enabled(t, marking):
                break
        if _enabled(t, marking) or not changed:
            return marking
        z += 1


@dataclass(frozen=True, slots=True)
class TraceReplay:
    fit: bool
    fitness: float
    missing: int
    consumed: int
    remaining: int
    produced: int
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "fit": self.fit,
            "fitness": self.fitness,
            "missing": self.missing,
            "consumed": self.consumed,
            "remaining": self.remaining,
            "produced": self.produced,
            "problems": list(self.problems),
        }


def replay_trace(
    net: PetriNet, activities: tuple[str, ...], paths: Paths, by_label: dict[str, Transition]
) -> TraceReplay:
    run = _Replay(net, paths)
    ordered = sorted(net.transitions.values(), key=lambda x: x.name)
    for activity in activities:
        if activity not in by_label:
            continue  # not in the model: skipped, as pm4py does by default
        candidates = [x for x in ordered if x.label == activity and _enabled(x, run.marking)]
        run.event(candidates[0] if candidates else by_label[activity])
    run.finish()
    final = net.final
    missing_final = sum(max(0, n - run.marking.get(p, 0)) for p in final for n in [final[p]])
    remaining = sum(max(0, n - final[p]) if p in final else n for p, n in run.marking.items())
    fit = run.missing == 0 and remaining == 0
    consumed = run.consumed + sum(final.values())
    missing = run.missing + missing_final
    produced = run.produced
    if consumed > 0 and produced > 0:
        fitness = 0.5 * (1.0 - missing / consumed) + 0.5 * (1.0 - remaining / produced)
    else:
        fitness = 1.0
    labels = tuple(t.label or t.name for t in run.problems)
    return TraceReplay(fit, fitness, missing, consumed, remaining, produced, labels)


def label_map(net: PetriNet) -> dict[str, Transition]:
    """Activity → transition, the last by name winning (pm4py's ``trans_map``)."""
    out: dict[str, Transition] = {}
    for t in sorted(net.transitions.values(), key=lambda x: x.name):
        if t.label is not None:
            out[t.label] = t
    return out
