"""De-duplication: blocking → pairwise scores (rapidfuzz) → union-find clusters → golden records.

Blocking keeps a million records from meaning 10¹² comparisons: only records that share at least one
blocking key (the same normalised phone, the same name core, the same address, or within one city
the name core or one of its one-character deletions) are compared, and blocks larger than ``max_block``
(a shared switchboard number, a generic name) are skipped rather than exploded.

The score of a pair is the weighted mean of per-field similarities over the fields both records have
(a missing phone neither helps nor hurts)::

    score = Σ w_f · sim_f / Σ w_f      over fields f present on both sides

with ``sim`` the normalised Indel similarity ``r`` (rapidfuzz ``ratio``/100) of the match keys,
adjusted per field: the name uses ``r``; the phone 1 when equal, 0.8 when one digit differs
(``r ≥ 0.9``), else 0; the address ``(r − 0.5) / 0.5`` clipped to [0, 1] (two addresses in one city
already share half their characters); the city 1 when equal, else 0. Pairs at or above ``threshold`` are linked; clusters are the connected components.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

from isthmus.errors import InvalidInput, Location
from isthmus.quality import _matchkeys as mk
from isthmus.quality._review import Decision, PairDecision, clusters_with_decisions, record_ids

ROLES = ("name", "phone", "address", "city")

#: Column names recognised per role (compared after lower-casing and removing spaces, _ and -).
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "name": (
        "名称",
        "客户名称",
        "公司名称",
        "企业名称",
        "单位名称",
        "客户",
        "姓名",
        "name",
        "customername",
        "companyname",
        "company",
        "customer",
        "fullname",
    ),
    "phone": (
        "电话",
        "手机",
        "手机号",
        "手机号码",
        "联系电话",
        "电话号码",
        "phone",
        "mobile",
        "tel",
        "telephone",
        "phonenumber",
        "cellphone",
    ),
    "address": ("地址", "详细地址", "联系地址", "注册地址", "address", "addr", "street"),
    "city": ("城市", "所在城市", "市", "city", "town"),
}
DEFAULT_WEIGHTS: dict[str, float] = {"name": 0.45, "phone": 0.3, "address": 0.15, "city": 0.1}

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class DedupeConfig:
    """What to compare and how strictly; every field has a default that suits a customer file."""

    columns: Mapping[str, str] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    threshold: float = 0.8
    max_block: int = 50
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Cluster:
    """Records judged to be one entity; ``score`` is the weakest link that joined them."""

    rows: tuple[int, ...]
    score: float


@dataclass(frozen=True, slots=True)
class DedupeResult:
    clusters: list[Cluster]
    candidate_pairs: int
    matched_pairs: int
    columns: Mapping[str, str]

    def as_dict(self, *, detail: bool = False) -> dict[str, Any]:
        """``{"clusters": [[row, …], …]}`` — the CLI contract; ``detail`` adds scores and counts."""
        body: dict[str, Any] = {"clusters": [list(c.rows) for c in self.clusters]}
        if detail:
            body["scores"] = [round(c.score, 4) for c in self.clusters]
            body["candidate_pairs"] = self.candidate_pairs
            body["matched_pairs"] = self.matched_pairs
            body["columns"] = dict(self.columns)
        return body


def _canon(header: str) -> str:
    return "".join(ch for ch in header.strip().lower() if ch not in " _-")


def detect_columns(headers: Sequence[str]) -> dict[str, str]:
    """Map roles (name, phone, address, city) to the headers that hold them, by name (中文 or English).

    >>> detect_columns(["客户名称", "手机", "Address", "城市"])
    {'name': '客户名称', 'phone': '手机', 'address': 'Address', 'city': '城市'}
    """
    found: dict[str, str] = {}
    for role, names in ROLE_NAMES.items():
        for header in headers:
            if _canon(header) in names and header not in found.values():
                found[role] = header
                break
    return found


def resolve_columns(
    headers: Sequence[str], config: DedupeConfig, *, file: str | None = None
) -> dict[str, str]:
    """Configured columns over detected ones; every named column must exist, and name or phone must."""
    columns = {**detect_columns(headers), **config.columns}
    for role, column in config.columns.items():
        if role not in ROLES:
            raise InvalidInput(
                "unknown role {role!r}; allowed: {allowed}",
                location=Location(file=file),
                role=role,
                allowed=", ".join(ROLES),
            )
        if column not in headers:
            raise InvalidInput(
                "missing column {column!r} (for {role})",
                location=Location(file=file, column=column),
                column=column,
                role=role,
            )
    for key in config.keys:
        if key not in headers:
            raise InvalidInput(
                "missing key column {column!r}", location=Location(file=file, column=key), column=key
            )
    if "name" not in columns and "phone" not in columns and not config.keys:
        raise InvalidInput(
            "missing column: no name or phone column (expected one of 名称/客户名称/name or 电话/手机/phone; "
            "columns are {available})",
            location=Location(file=file),
            available=", ".join(headers),
        )
    return columns


def match_keys(frame: pl.DataFrame, columns: Mapping[str, str]) -> pl.DataFrame:
    """One row per record: ``row`` and the key of each role (null when absent or empty)."""
    makers = {"name": mk.name_key, "phone": mk.phone_key, "address": mk.address_key, "city": mk.city_key}
    exprs = [pl.int_range(pl.len(), dtype=pl.Int64).alias("row")]
    for role in ROLES:
        source = pl.col(columns[role]) if role in columns else pl.lit(None, dtype=pl.String)
        exprs.append(makers[role](source).alias(role))
    keys = frame.select(exprs)
    # 上海华通科技 and 华通科技 in 上海 are one name: drop a leading city from the name core.
    core = pl.col("name").str.strip_prefix(pl.col("city").fill_null(""))
    return keys.with_columns(
        pl.when(core.str.len_chars() > 0).then(core).otherwise(pl.col("name")).alias("name")
    )


#: Deletion neighbourhood depth: one-character deletions at the first positions of the name core.
_DELETIONS = 8


def _blocks(keys: pl.DataFrame) -> list[pl.DataFrame]:
    """``(row, k)`` frames, one per blocking pass; ``k`` is a 64-bit hash of the blocking key.

    Integers join much faster than strings, and a hash collision only adds a pair that scoring rejects.
    """
    passes = [keys.select("row", pl.col(c).hash(seed=7).alias("k"), pl.col(c).is_null().alias("n"))
              for c in ("phone", "name", "address")]  # fmt: skip
    # Within a city, the name core and each of its one-character deletions: two names one typo apart
    # (substitution, insertion, deletion or swap) share at least one — SymSpell's deletion
    # neighbourhood — without assuming anything about words or spaces.
    name, i = pl.col("name"), pl.col("i")
    variant = pl.when(i < 0).then(name).otherwise(name.str.slice(0, i) + name.str.slice(i + 1))
    deletions = (
        keys.select("row", "name", pl.col("city").fill_null(""))
        .drop_nulls("name")
        .with_columns(pl.int_ranges(-1, pl.min_horizontal(name.str.len_chars(), _DELETIONS)).alias("i"))
        .explode("i")
        .select("row", pl.struct(pl.col("city"), variant).hash(seed=7).alias("k"), (variant == "").alias("n"))
    )
    return [block.filter(~pl.col("n")).drop("n") for block in (*passes, deletions)]


def candidate_pairs(keys: pl.DataFrame, *, max_block: int) -> pl.DataFrame:
    """Distinct pairs ``(a, b)``, ``a < b``, of rows sharing a blocking key in a block of ≤ ``max_block``."""
    parts = []
    for block in _blocks(keys):
        sizes = block.group_by("k").len().filter((pl.col("len") >= 2) & (pl.col("len") <= max_block))
        block = block.join(sizes.select("k"), on="k", how="semi")
        pairs = block.join(block, on="k", suffix="_b").filter(pl.col("row") < pl.col("row_b"))
        parts.append(pairs.select(pl.col("row").alias("a"), pl.col("row_b").alias("b")))
    return pl.concat(parts).unique().sort("a", "b")


def _similarity(keys: pl.DataFrame, pairs: pl.DataFrame, role: str) -> tuple[np.ndarray, np.ndarray]:
    left = keys.get_column(role).gather(pairs.get_column("a"))
    right = keys.get_column(role).gather(pairs.get_column("b"))
    present = (left.is_not_null() & right.is_not_null()).to_numpy()
    if role == "city":
        return (left == right).fill_null(False).to_numpy().astype(np.float64), present
    sims = cpdist(left.fill_null("").to_list(), right.fill_null("").to_list(), scorer=fuzz.ratio, workers=-1)
    ratio = np.asarray(sims, dtype=np.float64) / 100.0
    if role == "phone":
        # One mistyped digit is still the same line; otherwise two numbers simply differ.
        return np.where(ratio >= 1.0, 1.0, np.where(ratio >= 0.9, 0.8, 0.0)), present
    if role == "address":
        # Two addresses in one city share half their characters (city, district, 路/号): rescale.
        return np.clip((ratio - 0.5) / 0.5, 0.0, 1.0), present
    return ratio, present


def score_pairs(keys: pl.DataFrame, pairs: pl.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    """The weighted mean similarity of each candidate pair (see the module docstring)."""
    total = np.zeros(pairs.height)
    weight = np.zeros(pairs.height)
    for role in ROLES:
        w = float(weights.get(role, 0.0))
        if w <= 0:
            continue
        sims, present = _similarity(keys, pairs, role)
        total += np.where(present, sims * w, 0.0)
        weight += np.where(present, w, 0.0)
    return np.divide(total, weight, out=np.zeros_like(total), where=weight > 0)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def clusters_from_pairs(pairs: Sequence[tuple[int, int, float]]) -> list[Cluster]:
    """Connected components of the linked pairs, sorted within and across clusters.

    >>> [c.rows for c in clusters_from_pairs([(3, 1, 0.9), (1, 7, 0.95), (4, 5, 1.0)])]
    [(1, 3, 7), (4, 5)]
    """
    uf = _UnionFind()
    for a, b, _ in pairs:
        uf.union(a, b)
    members: dict[int, list[int]] = {}
    for x in list(uf.parent):
        members.setdefault(uf.find(x), []).append(x)
    weakest: dict[int, float] = {}
    for a, _, s in pairs:
        root = uf.find(a)
        weakest[root] = min(weakest.get(root, 1.0), s)
    found = [Cluster(tuple(sorted(rows)), weakest[root]) for root, rows in members.items()]
    return sorted(found, key=lambda c: c.rows)


def _exact_key_pairs(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    exprs = [mk.plain_text(pl.col(k)) for k in keys]
    block = frame.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), pl.concat_str(exprs, separator="|").alias("k")
    )
    block = block.drop_nulls("k")
    pairs = block.join(block, on="k", suffix="_b").filter(pl.col("row") < pl.col("row_b"))
    return pairs.select(pl.col("row").alias("a"), pl.col("row_b").alias("b"))


def _decided_rows(
    frame: pl.DataFrame, decisions: Sequence[PairDecision]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The decisions as row pairs of this frame (decisions on records it does not hold drop out)."""
    rows: dict[str, list[int]] = {}
    for row, rid in enumerate(record_ids(frame)):
        rows.setdefault(rid, []).append(row)
    merge, apart = [], []
    for d in decisions:
        left, right = rows.get(d.first, []), rows.get(d.second, [])
        if d.decision is Decision.MERGE and left and right:
            merge.append((left[0], right[0]))
        elif d.decision is Decision.APART:
            apart += [(a, b) for a in left for b in right]
    return merge, apart


def dedupe(
    frame: pl.DataFrame,
    config: DedupeConfig | None = None,
    *,
    file: str | None = None,
    progress: Progress = _no_progress,
    decisions: Sequence[PairDecision] = (),
) -> DedupeResult:
    """Find the records of ``frame`` that are one entity; ``decisions`` of a review are honoured.

    >>> df = pl.DataFrame({"name": ["华通科技有限公司", "华通科技有限责任公司", "远大贸易"],
    ...                    "phone": ["138 0013 8000", "+86 13800138000", "139"]})
    >>> dedupe(df).as_dict()
    {'clusters': [[0, 1]]}
    """
    config = config or DedupeConfig()
    columns = resolve_columns(frame.columns, config, file=file)
    progress("keys", 0, 4)
    keys = match_keys(frame, columns)
    progress("blocking", 1, 4)
    pairs = candidate_pairs(keys, max_block=config.max_block)
    progress("scoring", 2, 4)
    scores = score_pairs(keys, pairs, config.weights)
    linked = pairs.with_columns(pl.Series("score", scores)).filter(pl.col("score") >= config.threshold)
    if config.keys:
        exact = _exact_key_pairs(frame, config.keys).with_columns(pl.lit(1.0).alias("score"))
        linked = pl.concat([linked, exact]).unique(["a", "b"])
    progress("clustering", 3, 4)
    if decisions:
        merge, apart = _decided_rows(frame, decisions)
        found = clusters_with_decisions(linked.iter_rows(), merge, apart)
        clusters = [Cluster(rows, score) for rows, score in found]
    else:
        clusters = clusters_from_pairs(list(linked.iter_rows()))
    progress("done", 4, 4)
    return DedupeResult(clusters, pairs.height, linked.height, columns)


def config_from_mapping(
    section: Mapping[str, Any], *, file: str | None = None, line: int | None = None
) -> DedupeConfig:
    """A :class:`DedupeConfig` from the ``dedupe:`` section of a rule file."""
    allowed = {"columns", "weights", "threshold", "max_block", "keys", "survivorship"}
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise InvalidInput(
            "unknown dedupe option {option!r}; allowed: {allowed}",
            location=Location(file=file, line=line),
            option=unknown[0],
            allowed=", ".join(sorted(allowed)),
        )
    weights = {**DEFAULT_WEIGHTS, **{str(k): float(v) for k, v in (section.get("weights") or {}).items()}}
    threshold = float(section.get("threshold", 0.8))
    if not 0 < threshold <= 1:
        raise InvalidInput(
            "threshold must be in (0, 1]", location=Location(file=file, line=line, field="threshold")
        )
    return DedupeConfig(
        columns={str(k): str(v) for k, v in (section.get("columns") or {}).items()},
        weights=weights,
        threshold=threshold,
        max_block=int(section.get("max_block", 50)),
        keys=tuple(str(k) for k in section.get("keys") or ()),
    )
