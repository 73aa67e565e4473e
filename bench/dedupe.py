"""De-duplication benchmark: Isthmus (blocking + rapidfuzz + union-find) beside splink, same data, same run.

    .venv/bin/python bench/dedupe.py                 # 1,000,000 customers, 2 % duplicates
    .venv/bin/python bench/dedupe.py --rows 100000   # a quick run

The data set is ``isthmus.testing.customers.generate_customers`` (deterministic seed): Chinese company
names with suffix variants (有限公司/有限责任公司/(集团)), full-width characters, phone formats (+86,
0086, spaces, dashes), typos, missing fields, and hard negatives (sibling companies, chains).
Precision and recall are over record pairs (every pair inside a predicted cluster against every pair
inside a true entity). splink is optional (``uv pip install splink``); it gets the same normalised
match keys Isthmus computes, so the comparison is about matching, not about cleaning.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from collections.abc import Iterable
from itertools import combinations
from typing import Any

import polars as pl

from isthmus.quality import DedupeConfig, dedupe, detect_columns, match_keys
from isthmus.testing.customers import generate_customers


def _pairs(clusters: Iterable[Iterable[int]]) -> set[tuple[int, int]]:
    return {p for rows in clusters for p in combinations(sorted(rows), 2)}


def _score(predicted: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float]:
    hits = len(predicted & truth)
    return hits / max(1, len(predicted)), hits / max(1, len(truth))


def run_isthmus(frame: pl.DataFrame) -> tuple[set[tuple[int, int]], float]:
    start = time.perf_counter()
    result = dedupe(frame, DedupeConfig())
    return _pairs(c.rows for c in result.clusters), time.perf_counter() - start


def run_splink(frame: pl.DataFrame) -> tuple[set[tuple[int, int]], float] | None:
    try:
        import splink.comparison_library as cl
        from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    except ImportError:
        return None
    logging.getLogger("splink").setLevel(logging.ERROR)
    start = time.perf_counter()
    keys = match_keys(frame, detect_columns(frame.columns)).rename({"row": "unique_id"})
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.95, 0.88, 0.8]),
            cl.ExactMatch("phone"),
            cl.LevenshteinAtThresholds("address", [1, 3]),
            cl.ExactMatch("city"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("phone"),
            block_on("name"),
            block_on("address"),
            block_on("city", "substr(name, 1, 3)"),
        ],
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(keys.to_arrow()), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("phone", "name")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
    table = pl.from_arrow(clusters.as_duckdbpyrelation().select("cluster_id, unique_id").arrow())
    assert isinstance(table, pl.DataFrame)
    groups = table.group_by("cluster_id").agg(pl.col("unique_id")).filter(pl.col("unique_id").list.len() > 1)
    elapsed = time.perf_counter() - start
    return _pairs(groups.get_column("unique_id").to_list()), elapsed


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240630)
    parser.add_argument("--no-splink", action="store_true", help="Skip splink even if it is installed.")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = generate_customers(args.rows, seed=args.seed)
    frame = pl.DataFrame(data.rows, schema=dict.fromkeys(data.rows[0], pl.String))
    truth = data.true_pairs()
    print(f"generated {args.rows:,} rows, {len(truth):,} true pairs in {time.perf_counter() - start:.1f} s")
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    results: dict[str, Any] = {}
    runners = [("isthmus", run_isthmus)] + ([] if args.no_splink else [("splink (duckdb)", run_splink)])
    print("| engine | precision | recall | wall time (s) |\n|---|--:|--:|--:|")
    for name, runner in runners:
        outcome = runner(frame)
        if outcome is None:
            print(f"| {name} | not installed | | |")
            continue
        predicted, elapsed = outcome
        precision, recall = _score(predicted, truth)
        results[name] = {"precision": precision, "recall": recall, "seconds": elapsed}
        print(f"| {name} | {precision:.4f} | {recall:.4f} | {elapsed:.1f} |")
    return results


if __name__ == "__main__":
    main()
