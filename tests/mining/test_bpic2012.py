"""BPIC 2012 (262,200 events with schedule/start/complete lifecycle) against pm4py's stored numbers.

pm4py takes ~30 s to read this log, so ``scripts/mining-golden`` stored its results once in
``tests/data/mining/bpic2012-golden.json``; here only Isthmus runs (a few seconds).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest

import isthmus.mining as m
from tests.mining._pm4py import EVENTLOGS

GOLDEN = Path(__file__).parents[1] / "data" / "mining" / "bpic2012-golden.json"
LOG = EVENTLOGS / "bpic2012.xes.gz"
pytestmark = pytest.mark.skipif(
    not (GOLDEN.exists() and LOG.exists()), reason="BPIC 2012 or its golden file missing"
)


def _digest(items: list[Any]) -> str:
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode()).hexdigest()


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return dict(json.loads(GOLDEN.read_text()))


@pytest.fixture(scope="module")
def log() -> m.EventLog:
    return m.read_log(LOG)


def test_dfg_and_endpoints(golden: dict[str, Any], log: m.EventLog) -> None:
    graph = m.dfg(log)
    assert len(log) == golden["events"]
    assert sorted([s, t, n] for (s, t), n in graph.edges.items()) == golden["dfg"]
    assert graph.start == golden["start"]
    assert graph.end == golden["end"]


def test_performance_dfg(golden: dict[str, Any], log: m.EventLog) -> None:
    ours = m.performance_dfg(log).edges
    assert len(ours) == len(golden["performance"])
    for source, target, mean, median, low, high, total, stdev in golden["performance"]:
        p = ours[(source, target)]
        assert (p.min_s, p.max_s) == (low, high)
        for theirs, mine in ((mean, p.mean_s), (median, p.median_s), (total, p.sum_s)):
            assert math.isclose(theirs, mine, rel_tol=1e-12, abs_tol=1e-9)
        if stdev is None:
            assert p.stdev_s is None
        else:
            assert p.stdev_s is not None
            assert math.isclose(stdev, p.stdev_s, rel_tol=1e-12, abs_tol=1e-9)


def test_variants_and_durations(golden: dict[str, Any], log: m.EventLog) -> None:
    found = m.variants(log)
    assert len(found) == golden["variants"]
    assert _digest(sorted([list(v.activities), v.count] for v in found)) == golden["variants_sha256"]
    assert [[list(v.activities), v.count] for v in found[:20]] == golden["top_variants"]
    durations = sorted(m.case_durations(log)["duration_s"].to_list())
    assert _digest(durations) == golden["durations_sha256"]
