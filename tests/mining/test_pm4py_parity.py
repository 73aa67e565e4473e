"""Every number equals pm4py's on the real logs (pm4py is the reference; see docs/mining.md).

Counts, minima, maxima, case durations and replay results are compared exactly; means, medians,
sums and standard deviations to 1e-12 relative (pandas and Polars add floats in another order).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import isthmus.mining as m
from tests.mining._pm4py import EVENTLOGS, call, frame, pm4py

LOGS = ["roadtraffic100traces.xes", "receipt.csv"]
pytestmark = pytest.mark.skipif(not EVENTLOGS.is_dir(), reason="the shared event logs are not here")


@pytest.fixture(scope="module", params=LOGS)
def both(request: pytest.FixtureRequest) -> tuple[Any, m.EventLog, str]:
    name = str(request.param)
    return frame(EVENTLOGS / name), m.read_log(EVENTLOGS / name), name


def close(a: float, b: float | None) -> bool:
    return b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)


def test_dfg_start_and_end_activities_equal_pm4py(both: tuple[Any, m.EventLog, str]) -> None:
    df, log, _ = both
    edges, start, end = call("discover_dfg", df)
    ours = m.dfg(log)
    assert ours.edges == dict(edges)
    assert ours.start == dict(start)
    assert ours.end == dict(end)


def test_performance_dfg_equals_pm4py(both: tuple[Any, m.EventLog, str]) -> None:
    df, log, _ = both
    perf, _, _ = call("discover_performance_dfg", df)
    ours = m.performance_dfg(log).edges
    assert set(ours) == set(perf)
    for edge, theirs in perf.items():
        mine = ours[edge]
        assert (mine.min_s, mine.max_s) == (theirs["min"], theirs["max"])
        assert close(theirs["median"], mine.median_s)
        assert close(theirs["mean"], mine.mean_s)
        assert close(theirs["sum"], mine.sum_s)
        if math.isnan(theirs["stdev"]):
            assert mine.stdev_s is None
        else:
            assert close(theirs["stdev"], mine.stdev_s)


def test_variants_and_case_durations_equal_pm4py(both: tuple[Any, m.EventLog, str]) -> None:
    df, log, _ = both
    assert {v.activities: v.count for v in m.variants(log)} == dict(call("get_variants", df))
    assert sorted(m.case_durations(log)["duration_s"].to_list()) == call("get_all_case_durations", df)


def _model(df: Any, tmp: Path) -> Path:
    """A BPMN model pm4py discovers (inductive miner: tasks, XOR and AND gateways, silent steps)."""
    pm = pm4py()
    from pm4py.objects.bpmn.exporter import exporter

    bpmn = pm.convert_to_bpmn(call("discover_process_tree_inductive", df, noise_threshold=0.2))
    path = tmp / "model.bpmn"
    exporter.apply(bpmn, str(path))
    return path


def test_token_replay_equals_pm4py_per_case_and_overall(
    both: tuple[Any, m.EventLog, str], tmp_path: Path
) -> None:
    df, log, _ = both
    path = _model(df, tmp_path)
    net, im, fm = pm4py().convert_to_petri_net(call("read_bpmn", str(path)))
    theirs = call("fitness_token_based_replay", df, net, im, fm)
    diagnostics = call("conformance_diagnostics_token_based_replay", df, net, im, fm)
    ours = m.token_replay(log, m.load_net(path))
    assert ours.log_fitness == theirs["log_fitness"]
    assert ours.average_trace_fitness == theirs["average_trace_fitness"]
    assert ours.percentage_of_fitting_traces == theirs["percentage_of_fitting_traces"]
    for case, d in zip(sorted(df["case:concept:name"].unique()), diagnostics, strict=True):
        r = ours.cases[case]
        assert (r.missing, r.consumed, r.remaining, r.produced) == (
            d["missing_tokens"],
            d["consumed_tokens"],
            d["remaining_tokens"],
            d["produced_tokens"],
        )
        assert (r.fit, r.fitness) == (d["trace_is_fit"], d["trace_fitness"])


def test_our_as_is_export_replays_like_pm4py(both: tuple[Any, m.EventLog, str], tmp_path: Path) -> None:
    """The discovered BPMN (XOR gateways, loops) opens in pm4py and replays identically there."""
    df, log, _ = both
    path = tmp_path / "asis.bpmn"
    path.write_text(m.discovered_bpmn(m.dfg(log), coverage=0.9))
    net, im, fm = pm4py().convert_to_petri_net(call("read_bpmn", str(path)))
    theirs = call("fitness_token_based_replay", df, net, im, fm)
    ours = m.token_replay(log, m.load_net(path))
    assert ours.log_fitness == theirs["log_fitness"]
    assert ours.percentage_of_fitting_traces == theirs["percentage_of_fitting_traces"]
