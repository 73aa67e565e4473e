"""Conformance of a log against a BPMN model: token-based replay fitness per case and overall."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from isthmus.mining._bpmn_net import PetriNet, Transition, read_bpmn, to_petri_net
from isthmus.mining._discovery import variant_table
from isthmus.mining._encoded import encoded, variant_ids
from isthmus.mining._log import EventLog
from isthmus.mining._schema import CASE
from isthmus.mining._token_replay import Paths, TraceReplay, label_map, replay_trace, silent_paths


@dataclass(frozen=True, slots=True)
class Conformance:
    """``log_fitness``, ``average_trace_fitness`` and ``percentage_of_fitting_traces`` exactly as
    pm4py's ``fitness_token_based_replay`` names and computes them; ``cases`` per case id."""

    log_fitness: float
    average_trace_fitness: float
    percentage_of_fitting_traces: float
    cases: Mapping[str, TraceReplay]

    def deviating(self) -> list[str]:
        return sorted(case for case, r in self.cases.items() if not r.fit)

    def as_dict(self, *, with_cases: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "log_fitness": self.log_fitness,
            "average_trace_fitness": self.average_trace_fitness,
            "percentage_of_fitting_traces": self.percentage_of_fitting_traces,
            "cases_total": len(self.cases),
            "cases_fit": sum(1 for r in self.cases.values() if r.fit),
            "deviating_cases": self.deviating(),
        }
        if with_cases:
            body["cases"] = [{"case_id": c} | r.as_dict() for c, r in sorted(self.cases.items())]
        return body


def net_from_bpmn(data: bytes, name: str = "model.bpmn") -> PetriNet:
    return to_petri_net(*read_bpmn(data, name))


def token_replay(log: EventLog, net: PetriNet) -> Conformance:
    """Replay every variant once; each case gets its variant's result."""
    paths = silent_paths(net)
    labels = label_map(net)
    enc = encoded(log)
    if enc is None:
        return _token_replay_reference(log, net, paths, labels)
    ids = variant_ids(log, enc)
    per_variant = [
        replay_trace(
            net,
            tuple(enc.names[c] for c in enc.codes[enc.starts[case] : enc.starts[case + 1]].tolist()),
            paths,
            labels,
        )
        for case in ids.first_case.tolist()
    ]
    # Cases in log order (= case-id order, as pm4py adds them: float addition is not associative).
    cases = _CaseResults(enc.case_ids(log.frame), ids.of_case, per_variant)
    return _summary(cases, [per_variant[v] for v in ids.of_case.tolist()])


class _CaseResults(Mapping[str, TraceReplay]):
    """Each case's replay by case id, from each case's variant and each variant's replay: a
    million-event log has ~100 k cases, and a dict of them (id strings, entries) is ~12 MiB that
    most callers (the fitness numbers, the deviating ids) never look up. Iteration is in log order;
    the id → position index is built on the first lookup."""

    __slots__ = ("_ids", "_index", "_of_case", "_per_variant")

    def __init__(
        self, ids: pl.Series, of_case: npt.NDArray[np.int64], per_variant: Sequence[TraceReplay]
    ) -> None:
        self._ids = ids
        self._of_case = of_case
        self._per_variant = per_variant
        self._index: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self._of_case)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids.cast(pl.String).to_list())

    def __getitem__(self, case: str) -> TraceReplay:
        if self._index is None:
            self._index = {c: i for i, c in enumerate(self._ids.cast(pl.String).to_list())}
        return self._per_variant[int(self._of_case[self._index[case]])]

    def items(self) -> ItemsView[str, TraceReplay]:
        return _Items(self)

    def values(self) -> ValuesView[TraceReplay]:
        return _Values(self)

    def pairs(self) -> Iterator[tuple[str, TraceReplay]]:
        """``items()`` without the index: ids and results side by side, in log order."""
        return zip(self._ids.cast(pl.String).to_list(), self.results(), strict=True)

    def results(self) -> Iterator[TraceReplay]:
        variants = self._per_variant
        return (variants[v] for v in self._of_case.tolist())


class _Items(ItemsView[str, TraceReplay]):
    _mapping: _CaseResults

    def __iter__(self) -> Iterator[tuple[str, TraceReplay]]:
        return self._mapping.pairs()


class _Values(ValuesView[TraceReplay]):
    _mapping: _CaseResults

    def __iter__(self) -> Iterator[TraceReplay]:
        return self._mapping.results()


def _token_replay_reference(
    log: EventLog, net: PetriNet, paths: Paths, labels: dict[str, Transition]
) -> Conformance:
    table = variant_table(log)
    by_case: dict[str, TraceReplay] = {}
    for activities, members in table.group_by("variant").agg(pl.col(CASE)).iter_rows():
        result = replay_trace(net, tuple(activities), paths, labels)
        by_case.update(dict.fromkeys(members, result))
    # Sums in case-id order, as pm4py adds them: float addition is not associative.
    cases = {case: by_case[case] for case in table[CASE].to_list()}
    return _summary(cases, list(cases.values()))


def _summary(cases: Mapping[str, TraceReplay], results: list[TraceReplay]) -> Conformance:
    """``results`` are the values of ``cases`` in order."""
    m = sum(r.missing for r in results)
    c = sum(r.consumed for r in results)
    r_ = sum(r.remaining for r in results)
    p = sum(r.produced for r in results)
    if results and c > 0 and p > 0:
        log_fitness = 0.5 * (1 - m / c) + 0.5 * (1 - r_ / p)
        average = sum(r.fitness for r in results) / len(results)
        fitting = 100.0 * sum(1 for r in results if r.fit) / len(results)
    else:
        log_fitness, average, fitting = 0.0, 0.0, 0.0
    return Conformance(log_fitness, average, fitting, cases)
