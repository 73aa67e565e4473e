"""Data quality: profiling, rule-based cleansing, fuzzy de-duplication and survivorship.

>>> import polars as pl
>>> from isthmus.quality import dedupe
>>> dedupe(pl.DataFrame({"name": ["华通科技有限公司", "华通科技有限责任公司"], "city": ["上海", "上海市"]})).as_dict()
{'clusters': [[0, 1]]}

Pure domain code (Polars, rapidfuzz, phonenumbers): sources and targets come in as frames. See
``docs/quality.md`` for the rule-file reference and the JSON shapes.
"""

from __future__ import annotations

from isthmus.quality._dedupe import (
    DEFAULT_WEIGHTS,
    Cluster,
    DedupeConfig,
    DedupeResult,
    candidate_pairs,
    clusters_from_pairs,
    config_from_mapping,
    dedupe,
    detect_columns,
    match_keys,
)
from isthmus.quality._files import detect_encoding, read_csv_text, read_table, write_table
from isthmus.quality._migration import (
    MigrationPlan,
    check_columns,
    map_frame,
    parse_plan,
    range_checksums,
    row_digest,
)
from isthmus.quality._normalize import (
    DEFAULT_SUFFIXES,
    SuffixCanonicalizer,
    SuffixForm,
    pattern_class,
    phone_e164,
    to_halfwidth,
)
from isthmus.quality._profile import ColumnProfile, Profile, profile
from isthmus.quality._review import Decision, PairDecision, clusters_with_decisions, pairs_for, record_ids
from isthmus.quality._rulefile import Rule, RuleFile, RuleKind, parse_rules, validation
from isthmus.quality._rules import CleanResult, RuleReport, apply_rules, violations
from isthmus.quality._survivorship import Strategy, Survivorship, golden_records

__all__ = [
    "DEFAULT_SUFFIXES",
    "DEFAULT_WEIGHTS",
    "CleanResult",
    "Cluster",
    "ColumnProfile",
    "Decision",
    "DedupeConfig",
    "DedupeResult",
    "MigrationPlan",
    "PairDecision",
    "Profile",
    "Rule",
    "RuleFile",
    "RuleKind",
    "RuleReport",
    "Strategy",
    "SuffixCanonicalizer",
    "SuffixForm",
    "Survivorship",
    "apply_rules",
    "candidate_pairs",
    "check_columns",
    "clusters_from_pairs",
    "clusters_with_decisions",
    "config_from_mapping",
    "dedupe",
    "detect_columns",
    "detect_encoding",
    "golden_records",
    "map_frame",
    "match_keys",
    "pairs_for",
    "parse_plan",
    "parse_rules",
    "pattern_class",
    "phone_e164",
    "profile",
    "range_checksums",
    "read_csv_text",
    "read_table",
    "record_ids",
    "row_digest",
    "to_halfwidth",
    "validation",
    "violations",
    "write_table",
]
