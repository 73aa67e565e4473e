"""Isthmus mining against pm4py on one deterministic order-to-cash log, in one run.

    .venv/bin/python bench/mining.py [--cases 100000] [--seed 7] [--repeat 1]

Generates ``bench/out/o2c.csv`` and ``bench/out/o2c.parquet`` (~1 M events, git-ignored) and a
BPMN model of the process, then runs each side in its own subprocess (so peak RSS is that side's
alone): import, DFG, performance DFG, variants, case durations, token replay. Prints wall and CPU times,
peak RSS (``VmHWM``), ratios, and whether every number is identical (counts exactly; float aggregates to 1e-12
relative, as in tests/mining/test_pm4py_parity.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"

# (activities, weight): the order-to-cash variants, with the CRM→ERP re-entry, rework and exceptions.
VARIANTS: list[tuple[list[str], int]] = [
    (
        [
            "Create Order",
            "Enter Order in ERP",
            "Check Stock",
            "Approve Order",
            "Pick",
            "Ship",
            "Invoice",
            "Receive Payment",
        ],
        40,
    ),
    (
        [
            "Create Order",
            "Enter Order in ERP",
            "Check Stock",
            "Pick",
            "Approve Order",
            "Ship",
            "Invoice",
            "Receive Payment",
        ],
        12,
    ),
    (
        [
            "Create Order",
            "Enter Order in ERP",
            "Check Stock",
            "Approve Order",
            "Approve Order",
            "Pick",
            "Ship",
            "Invoice",
            "Receive Payment",
        ],
        10,
    ),
    (
        [
            "Create Order",
            "Enter Order in ERP",
            "Check Stock",
            "Credit Check",
            "Approve Order",
            "Pick",
            "Ship",
            "Invoice",
            "Receive Payment",
        ],
        9,
    ),
    (
        [
            "Create Order",
            "Enter Order in ERP",
            "Check Stock",
            "Approve Order",
            "Pick",
            "Ship",
            "Invoice",
            "Send Reminder",
            "Receive Payment",
        ],
        8,
    ),
    (["Create Order", "Enter Order in ERP", "Check Stock", "Reject Order"], 6),
    (["Create Order", "Check Stock", "Approve Order", "Pick", "Ship", "Invoice", "Receive Payment"], 5),
    (
        [
            "Create Order",
            "Enter Order in ERP",
            "Check Stock",
            "Check Stock",
            "Approve Order",
            "Pick",
            "Ship",
            "Invoice",
            "Receive Payment",
        ],
        4,
    ),
    (
        [
            "Create Order",
            "Enter Order in ERP",
            "Check Stock",
            "Approve Order",
            "Pick",
            "Ship",
            "Ship",
            "Invoice",
            "Receive Payment",
        ],
        3,
    ),
    (["Create Order", "Enter Order in ERP", "Check Stock", "Credit Check", "Reject Order"], 3),
]
VARIANTS = [(["Receive Inquiry", *acts, "Close Order"], w) for acts, w in VARIANTS]
SYSTEMS = {
    "Receive Inquiry": "CRM",
    "Create Order": "CRM",
    "Send Reminder": "FIN",
    "Invoice": "FIN",
    "Receive Payment": "FIN",
}


def generate(cases: int, seed: int) -> tuple[Path, Path, int]:
    """A deterministic log: numpy's PCG64 with ``seed`` draws variants, gaps and resources."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    weights = np.array([w for _, w in VARIANTS], dtype=float)
    chosen = rng.choice(len(VARIANTS), size=cases, p=weights / weights.sum())
    lengths = np.array([len(VARIANTS[v][0]) for v in chosen])
    events = int(lengths.sum())
    case_of = np.repeat(np.arange(cases), lengths)
    position = np.arange(events) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    flat = np.concatenate([np.array(VARIANTS[v][0], dtype=object) for v in range(len(VARIANTS))])
    offsets = np.cumsum([0] + [len(a) for a, _ in VARIANTS])[:-1]
    activity = flat[offsets[chosen][case_of] + position]
    start = np.datetime64("2024-01-01T00:00:00", "s") + rng.integers(0, 365 * 86400, cases).astype(
        "timedelta64[s]"
    )
    gaps = rng.exponential(4 * 3600, events).astype("int64")
    gaps[position == 0] = 0
    running = np.cumsum(gaps)
    stamp = start[case_of] + (running - np.repeat(running[np.cumsum(lengths) - lengths], lengths)).astype(
        "timedelta64[ms]"
    )
    frame = pl.DataFrame(
        {
            "case:concept:name": pl.Series([f"SO-{i:07d}" for i in range(cases)])[case_of],
            "concept:name": activity.tolist(),
            "time:timestamp": pl.Series(stamp).dt.replace_time_zone("UTC"),
            "org:resource": [f"R{r:03d}" for r in rng.integers(0, 300, events)],
            "system": [SYSTEMS.get(a, "ERP") for a in activity.tolist()],
        }
    )
    OUT.mkdir(exist_ok=True)
    csv, parquet = OUT / "o2c.csv", OUT / "o2c.parquet"
    frame.write_csv(csv, datetime_format="%Y-%m-%dT%H:%M:%S%.3f%:z")
    frame.write_parquet(parquet)
    return csv, parquet, events


def model(csv: Path) -> Path:
    """The process model both sides replay on: the as-is BPMN of the log at 95 % path coverage."""
    from isthmus.mining import dfg, discovered_bpmn, read_log

    path = OUT / "o2c.bpmn"
    path.write_text(discovered_bpmn(dfg(read_log(csv)), coverage=0.95))
    return path


def _peak_mib() -> float:
    """This process's peak RSS: ``VmHWM`` of its own address space. (``ru_maxrss`` would not do:
    Linux carries the parent's RSS at fork over into the child's maximum, and the parent holds the
    generated log.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_isthmus(csv: Path, bpmn: Path) -> dict[str, Any]:
    import numpy as np

    import isthmus.mining as m

    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    t, c = time.perf_counter(), time.process_time()
    log = m.read_log(csv)
    times["import"], cpu["import"] = time.perf_counter() - t, time.process_time() - c
    import_mib = _peak_mib()
    t, c = time.perf_counter(), time.process_time()
    graph = m.dfg(log)
    times["dfg"], cpu["dfg"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    perf = m.performance_dfg(log)
    times["performance"], cpu["performance"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    variants = m.variants(log)
    times["variants"], cpu["variants"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    durations = np.sort(m.case_durations(log)["duration_s"].to_numpy()).tolist()  # pm4py's are sorted
    times["durations"], cpu["durations"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    replay = m.token_replay(log, m.load_net(bpmn))
    times["replay"], cpu["replay"] = time.perf_counter() - t, time.process_time() - c
    results = {
        "dfg": graph.edges,
        "start": graph.start,
        "end": graph.end,
        "perf": {
            k: (p.mean_s, p.median_s, p.min_s, p.max_s, p.sum_s, p.stdev_s) for k, p in perf.edges.items()
        },
        "variants": {v.activities: v.count for v in variants},
        "durations": durations,
        "fitness": (replay.log_fitness, replay.average_trace_fitness, replay.percentage_of_fitting_traces),
    }
    return {"times": times, "peak_mib": _peak_mib(), "import_mib": import_mib, "cpu": cpu, "results": results}


def run_pm4py(csv: Path, bpmn: Path) -> dict[str, Any]:
    import contextlib
    import io
    import warnings

    warnings.simplefilter("ignore")
    with contextlib.redirect_stdout(io.StringIO()):
        import pandas as pd
        import pm4py
    pm4py.util.constants.SHOW_PROGRESS_BAR = False
    from pm4py.algo.evaluation.replay_fitness.variants import token_replay as fitness

    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    t, c = time.perf_counter(), time.process_time()
    df = pm4py.format_dataframe(
        pd.read_parquet(csv) if csv.suffix == ".parquet" else pd.read_csv(csv),
        case_id="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    times["import"], cpu["import"] = time.perf_counter() - t, time.process_time() - c
    import_mib = _peak_mib()
    t, c = time.perf_counter(), time.process_time()
    edges, start, end = pm4py.discover_dfg(df)
    times["dfg"], cpu["dfg"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    perf, _, _ = pm4py.discover_performance_dfg(df)
    times["performance"], cpu["performance"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    variants = pm4py.get_variants(df)
    times["variants"], cpu["variants"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    durations = pm4py.get_all_case_durations(df)
    times["durations"], cpu["durations"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    net, im, fm = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(bpmn)))
    diagnostics = pm4py.conformance_diagnostics_token_based_replay(df, net, im, fm)
    fit = fitness.evaluate(diagnostics)
    times["replay"], cpu["replay"] = time.perf_counter() - t, time.process_time() - c
    results = {
        "dfg": {k: int(v) for k, v in edges.items()},
        "start": {k: int(v) for k, v in start.items()},
        "end": {k: int(v) for k, v in end.items()},
        "perf": {
            k: tuple(float(v[x]) for x in ("mean", "median", "min", "max", "sum", "stdev"))
            for k, v in perf.items()
        },
        "variants": {k: int(v) for k, v in variants.items()},
        "durations": [float(d) for d in durations],
        "fitness": (fit["log_fitness"], fit["average_trace_fitness"], fit["percentage_of_fitting_traces"]),
    }
    return {"times": times, "peak_mib": _peak_mib(), "import_mib": import_mib, "cpu": cpu, "results": results}


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))  # type: ignore[arg-type]
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, bool]:
    perf_same = ours["perf"].keys() == theirs["perf"].keys() and all(
        all(_same(x, y) for x, y in zip(ours["perf"][k], theirs["perf"][k], strict=True))
        for k in ours["perf"]
    )
    return {
        "dfg": ours["dfg"] == theirs["dfg"]
        and ours["start"] == theirs["start"]
        and ours["end"] == theirs["end"],
        "performance": perf_same,
        "variants": ours["variants"] == theirs["variants"],
        "durations": ours["durations"] == theirs["durations"],
        "replay": tuple(ours["fitness"]) == tuple(theirs["fitness"]),
    }


def _side(name: str, csv: Path, bpmn: Path) -> dict[str, Any]:
    out = OUT / f"{name}.pickle"
    subprocess.run(
        [sys.executable, __file__, "--side", name, "--csv", str(csv), "--bpmn", str(bpmn), "--out", str(out)],
        check=True,
    )
    with out.open("rb") as f:
        return pickle.load(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per side, alternating; each step's best time is reported"
    )
    parser.add_argument("--side", choices=["isthmus", "pm4py"])
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--bpmn", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.side:
        result = (run_isthmus if args.side == "isthmus" else run_pm4py)(args.csv, args.bpmn)
        with args.out.open("wb") as f:
            pickle.dump(result, f)
        return
    csv, parquet, events = generate(args.cases, args.seed)
    bpmn = model(csv)
    print(
        f"log: {args.cases:,} cases, {events:,} events -> {csv.name} ({csv.stat().st_size / 2**20:.0f} MiB), "
        f"{parquet.name} ({parquet.stat().st_size / 2**20:.0f} MiB); model {bpmn.name}"
    )
    for source in (csv, parquet):
        load = os.getloadavg()[0]
        runs = [(_side("isthmus", source, bpmn), _side("pm4py", source, bpmn)) for _ in range(args.repeat)]
        report(source, _best([o for o, _ in runs]), _best([t for _, t in runs]))
        print(
            f"load average (1 min) before/after: {load:.1f} / {os.getloadavg()[0]:.1f}; runs: {args.repeat}"
        )


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run, with each step's time the best of all runs (the machine is shared: the
    minimum is the least disturbed measurement) and the largest peak RSS."""
    best = dict(runs[0])
    best["times"] = {step: min(r["times"][step] for r in runs) for step in runs[0]["times"]}
    best["cpu"] = {step: min(r["cpu"][step] for r in runs) for step in runs[0]["cpu"]}
    best["peak_mib"] = max(r["peak_mib"] for r in runs)
    best["import_mib"] = max(r["import_mib"] for r in runs)
    return best


def report(source: Path, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Wall time and CPU time (``process_time``: all threads of the process) per step. On a loaded
    machine wall time penalises short multi-threaded steps most; CPU time does not depend on the
    load, and counts both of Polars' threads against Isthmus."""
    same = compare(ours["results"], theirs["results"])
    print(f"\n### input: {source.name}\n")
    print(
        "| step | pm4py s | Isthmus s | speed-up | pm4py CPU s | Isthmus CPU s | CPU ratio | identical |\n"
        "|---|---:|---:|---:|---:|---:|---:|---|"
    )

    def row(name: str, p: float, i: float, pc: float, ic: float, identical: object) -> None:
        print(
            f"| {name} | {p:.3f} | {i:.3f} | {p / i:.1f}× | {pc:.3f} | {ic:.3f} | {pc / ic:.1f}× | {identical} |"
        )

    for step in ours["times"]:
        t, o = theirs, ours
        row(step, t["times"][step], o["times"][step], t["cpu"][step], o["cpu"][step], same.get(step, ""))
    wall_p, wall_i = sum(theirs["times"].values()), sum(ours["times"].values())
    cpu_p, cpu_i = sum(theirs["cpu"].values()), sum(ours["cpu"].values())
    row("**end to end**", wall_p, wall_i, cpu_p, cpu_i, all(same.values()))
    row(
        "analyses after import",
        wall_p - theirs["times"]["import"],
        wall_i - ours["times"]["import"],
        cpu_p - theirs["cpu"]["import"],
        cpu_i - ours["cpu"]["import"],
        "",
    )
    for label, key in (("peak RSS after import (MiB)", "import_mib"), ("**peak RSS (MiB)**", "peak_mib")):
        print(
            f"| {label} | {theirs[key]:.0f} | {ours[key]:.0f} | {ours[key] / theirs[key]:.2f} of pm4py | | | | |"
        )
    print("\nfitness pm4py", theirs["results"]["fitness"], "isthmus", ours["results"]["fitness"])
    print(json.dumps(same))


if __name__ == "__main__":
    main()
