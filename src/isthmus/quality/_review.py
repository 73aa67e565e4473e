"""Review decisions on duplicate clusters — *merge* or *keep apart* — and clustering that honours them.

A decision is about records, not row numbers: row 17 of today's upload is not row 17 of next week's.
Each record is identified by a digest of its values (:func:`record_ids`), so a decision applies again
when the same record comes back, and lapses when the record itself changed (then it needs a new look).

Decisions are stored per pair. *Merge* of a cluster links its first record to each other one;
*keep apart* forbids every pair of the cluster. Clustering with decisions
(:func:`clusters_with_decisions`) adds the merge links first, then the scored links strongest first,
and skips any link that would put two records kept apart into one cluster — also through a third
record — so a pair kept apart stays apart and a merge stays merged on every re-run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations

import polars as pl

from isthmus.errors import InvalidInput


class Decision(StrEnum):
    MERGE = "merge"
    APART = "apart"

    @classmethod
    def parse(cls, text: str) -> Decision:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidInput("decision: expected merge or apart, got {value!r}", value=text) from None


@dataclass(frozen=True, slots=True)
class PairDecision:
    """One reviewed pair; ``first < second`` so each pair has one spelling."""

    first: str
    second: str
    decision: Decision

    @classmethod
    def of(cls, a: str, b: str, decision: Decision) -> PairDecision:
        return cls(min(a, b), max(a, b), decision)


def record_ids(frame: pl.DataFrame) -> list[str]:
    """A stable identity per row: the first 16 bytes of SHA-256 over its values (null ≠ empty)."""
    out = []
    for row in frame.iter_rows():
        text = "\x1f".join("\x00" if v is None else str(v) for v in row)
        out.append(hashlib.sha256(text.encode()).hexdigest()[:32])
    return out


def pairs_for(records: Sequence[str], decision: Decision) -> list[PairDecision]:
    """The pairs a decision on a cluster stands for (see the module docstring)."""
    unique = list(dict.fromkeys(records))
    if len(unique) < 2:
        raise InvalidInput("records: a decision needs at least two different records")
    if decision is Decision.MERGE:
        return [PairDecision.of(unique[0], other, decision) for other in unique[1:]]
    return [PairDecision.of(a, b, decision) for a, b in combinations(unique, 2)]


def clusters_with_decisions(
    links: Iterable[tuple[int, int, float]],
    merge: Iterable[tuple[int, int]],
    apart: Iterable[tuple[int, int]],
) -> list[tuple[tuple[int, ...], float]]:
    """Connected components of the links under the review decisions, as ``(rows, weakest link)``.

    >>> clusters_with_decisions([(0, 1, 0.9), (1, 2, 0.95)], merge=[(3, 4)], apart=[(0, 2)])
    [((1, 2), 0.95), ((3, 4), 1.0)]
    """
    parent: dict[int, int] = {}
    members: dict[int, set[int]] = {}
    forbidden: dict[int, set[int]] = {}
    for a, b in apart:
        forbidden.setdefault(a, set()).add(b)
        forbidden.setdefault(b, set()).add(a)

    def find(x: int) -> int:
        if x not in parent:
            parent[x], members[x] = x, {x}
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    weakest: dict[int, float] = {}
    ordered = [(a, b, 1.0) for a, b in merge] + sorted(links, key=lambda link: -link[2])
    for a, b, score in ordered:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        small, big = sorted((ra, rb), key=lambda r: len(members[r]))
        if any(other in members[big] for x in members[small] for other in forbidden.get(x, ())):
            continue  # a kept-apart pair would end up in one cluster
        root, gone = min(ra, rb), max(ra, rb)
        parent[gone] = root
        members[root] |= members.pop(gone)
        weakest[root] = min(weakest.pop(gone, 1.0), weakest.get(root, 1.0), score)
    found = [(tuple(sorted(rows)), weakest[root]) for root, rows in members.items() if len(rows) > 1]
    return sorted(found)
