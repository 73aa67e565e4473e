"""The integer view of a log that the discovery analyses share, built once per :class:`EventLog`.

String columns are slow to hash and compare a million times over; every control-flow analysis only
needs *which* activity an event is, *which* case it belongs to and *when* it happened. So activities
become small integer codes (their rank in the sorted list of distinct names, so comparing codes
compares names), cases become the offsets of their first events (the log is sorted by case, so a
case is one contiguous run of rows) and timestamps become integer microseconds. Everything derived
from these is cached on the log, so the DFG, the performance DFG, the variants, the case durations
and the token replay pay for the encoding once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.ma  # Polars imports it on the first numpy → Series conversion; pay it here, once
import numpy.typing as npt
import polars as pl

from isthmus.mining._schema import ACTIVITY, CASE, TIMESTAMP

if TYPE_CHECKING:
    from isthmus.mining._log import EventLog

IntArray = npt.NDArray[np.int64]
CodeArray = npt.NDArray[np.unsignedinteger[Any]]

_DAY_US = 86_400_000_000
# Per-event temporaries are made this many events at a time: whole-log ones would add several MiB
# each to the peak memory (and glibc keeps freed blocks of that size for reuse).
_BLOCK = 1 << 16


@dataclass(frozen=True, slots=True)
class Times:
    """Event timestamps in µs since the epoch, as numpy views of the frame's own timestamp chunks
    (an import leaves dozens of them): a contiguous copy would be 8 bytes an event more at the peak,
    and the analyses only need runs of neighbours and the values at given rows."""

    chunks: tuple[IntArray, ...]
    bounds: IntArray  # chunk k holds rows bounds[k]:bounds[k + 1]

    @classmethod
    def of(cls, column: pl.Series) -> Times:
        chunks = tuple(c.to_physical().cast(pl.Int64).to_numpy() for c in column.get_chunks() if c.len())
        bounds = np.zeros(len(chunks) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in chunks], out=bounds[1:])
        return cls(chunks, bounds)

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def span(self, lo: int, hi: int) -> IntArray:
        """Rows ``lo:hi`` (a view when they lie in one chunk)."""
        first = int(np.searchsorted(self.bounds, lo, side="right")) - 1
        start = int(self.bounds[first])
        if hi <= int(self.bounds[first + 1]):
            return self.chunks[first][lo - start : hi - start]
        pieces = []
        while lo < hi:
            end = min(hi, int(self.bounds[first + 1]))
            pieces.append(self.chunks[first][lo - int(self.bounds[first]) : end - int(self.bounds[first])])
            lo, first = end, first + 1
        return np.concatenate(pieces)

    def at(self, rows: IntArray) -> IntArray:
        """The values at ascending ``rows``."""
        out = np.empty(len(rows), dtype=np.int64)
        cuts = np.searchsorted(rows, self.bounds)
        for k, chunk in enumerate(self.chunks):
            lo, hi = int(cuts[k]), int(cuts[k + 1])
            if hi > lo:
                out[lo:hi] = chunk[rows[lo:hi] - self.bounds[k]]
        return out


@dataclass(frozen=True, slots=True)
class Encoded:
    """``names[codes[i]]`` is event ``i``'s activity; case ``c`` is rows ``starts[c]:starts[c + 1]``;
    ``times`` holds each event's timestamp in µs since the epoch."""

    names: tuple[str, ...]
    codes: CodeArray
    starts: IntArray
    times: Times
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def cases(self) -> int:
        return len(self.starts) - 1

    def follows(self) -> npt.NDArray[np.bool_]:
        """``follows[i]``: event ``i + 1`` directly follows event ``i`` in the same case (cached:
        the DFG and the performance DFG share it)."""
        if "follows" not in self.derived:
            out = np.ones(max(len(self.codes) - 1, 0), dtype=bool)
            out[self.starts[1:-1] - 1] = False
            self.derived["follows"] = out
        found: npt.NDArray[np.bool_] = self.derived["follows"]
        return found

    def pair_keys(self) -> npt.NDArray[np.unsignedinteger[Any] | np.signedinteger[Any]]:
        """The edge of each directly-follows pair as ``source_code · K + target_code`` (K
        activities; uint16 or int32 when that fits), built block by block straight into the
        result — no whole-log temporaries. Cached with :meth:`follows`."""
        if "keys" not in self.derived:
            width = len(self.names)
            square = width * width
            dtype = np.uint16 if square <= 1 << 16 else np.int32 if square < 1 << 31 else np.int64
            follows = self.follows()
            keys = np.empty(int(np.count_nonzero(follows)), dtype=dtype)
            done = 0
            for lo in range(0, follows.size, _BLOCK):
                hi = min(lo + _BLOCK, follows.size)
                block = np.multiply(self.codes[lo:hi], width, dtype=dtype)
                block += self.codes[lo + 1 : hi + 1]
                part = block[follows[lo:hi]]
                keys[done : done + part.size] = part
                done += part.size
            self.derived["keys"] = keys
        found: npt.NDArray[np.unsignedinteger[Any] | np.signedinteger[Any]] = self.derived["keys"]
        return found

    def case_ids(self, frame: pl.DataFrame) -> pl.Series:
        """Each case's id, in log order (cached: durations, variants and the replay name cases)."""
        if "case_ids" not in self.derived:
            self.derived["case_ids"] = frame[CASE].gather(self.starts[:-1])
        found: pl.Series = self.derived["case_ids"]
        return found

    def pair_durations(self) -> IntArray:
        """µs between the events of each directly-follows pair (a fresh array, the caller's),
        block by block like :meth:`pair_keys`."""
        follows = self.follows()
        out = np.empty(self.pair_keys().size, dtype=np.int64)
        done = 0
        for lo in range(0, follows.size, _BLOCK):
            hi = min(lo + _BLOCK, follows.size)
            stamps = self.times.span(lo, hi + 1)
            part = np.subtract(stamps[1:], stamps[:-1])[follows[lo:hi]]
            out[done : done + part.size] = part
            done += part.size
        return out


def encoded(log: EventLog) -> Encoded | None:
    """The log's integer view, computed on first use; None when a core column has nulls (a frame
    built by hand — imports reject those), where the analyses fall back to plain Polars."""
    cache = log.cache
    if "encoded" not in cache:
        cache["encoded"] = _encode(log.frame)
    found = cache["encoded"]
    return found if isinstance(found, Encoded) else None


def _encode(frame: pl.DataFrame) -> Encoded | bool:
    if any(frame[c].null_count() for c in (CASE, ACTIVITY, TIMESTAMP)):
        return False
    names, codes = _activity_codes(frame[ACTIVITY])
    starts = np.append(np.flatnonzero(_run_starts(frame[CASE])), np.int64(frame.height)).astype(np.int64)
    stamps = frame[TIMESTAMP]
    dtype = stamps.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_unit != "us":
        stamps = stamps.dt.cast_time_unit("us")
    return Encoded(names, codes, starts, Times.of(stamps))


def _activity_codes(activity: pl.Series) -> tuple[tuple[str, ...], CodeArray]:
    """The sorted distinct names and each event's rank among them, in the smallest unsigned type.
    A Categorical column is recoded through a table indexed by its own codes (its dictionary is
    shared by all columns, so its codes are neither dense nor in name order) — no text per event."""
    if not isinstance(activity.dtype, pl.Categorical):
        activity = activity.cast(pl.String)
        names = activity.unique().sort()
        return tuple(names.to_list()), activity.cast(pl.Enum(names)).to_physical().to_numpy()
    present = activity.unique()
    names = present.cast(pl.String).sort()
    dtype = np.uint8 if len(names) <= 1 << 8 else np.uint16 if len(names) <= 1 << 16 else np.uint32
    physical = present.to_physical().to_numpy()
    table = np.zeros(int(physical.max()) + 1 if len(physical) else 1, dtype=dtype)
    ranks = present.cast(pl.String).cast(pl.Enum(names)).to_physical().to_numpy()
    table[physical] = ranks
    codes = np.concatenate([table[chunk.to_physical().to_numpy()] for chunk in activity.get_chunks()])
    return tuple(names.to_list()), codes


def _one_word_ids(enc: Encoded, bits: int, lengths: IntArray) -> VariantIds:
    """Every case fits in one 64-bit word: built position by position (Horner), over the cases
    still that long — a few passes over the cases instead of several over all events."""
    firsts = enc.starts[:-1]
    key = np.zeros(enc.cases, dtype=np.uint64)
    step = np.uint64(bits)
    for position in range(int(lengths.max())):
        longer = np.flatnonzero(lengths > position)
        key[longer] = (key[longer] << step) | (enc.codes[firsts[longer] + position].astype(np.uint64) + 1)
    _, of_case, counts = np.unique(key, return_inverse=True, return_counts=True)
    first = np.full(len(counts), enc.cases, dtype=np.int64)
    np.minimum.at(first, of_case, np.arange(enc.cases, dtype=np.int64))
    return VariantIds(of_case.astype(np.int64), first, counts.astype(np.int64))


def _run_starts(column: pl.Series) -> npt.NDArray[np.bool_]:
    """Where a new run of equal values begins, chunk by chunk (``rle_id`` of a chunked string
    column would first copy it into one chunk)."""
    parts: list[npt.NDArray[np.bool_]] = []
    last: object = None
    for chunk in column.get_chunks():
        if chunk.is_empty():
            continue
        runs = chunk.rle_id().to_numpy()
        first = np.ones(len(runs), dtype=bool)
        np.not_equal(runs[1:], runs[:-1], out=first[1:])
        first[0] = not parts or last != chunk[0]
        last = chunk[-1]
        parts.append(first)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def seconds(us: IntArray) -> npt.NDArray[np.float64]:
    """µs → float seconds as pm4py gets them (pandas' ``86400·days + seconds + 1e-6·µs``), the
    numpy twin of :func:`isthmus.mining._schema.seconds_of_us`."""
    days = us // _DAY_US
    rest = us - days * _DAY_US
    whole = (days * 86_400 + rest // 1_000_000).astype(np.float64)
    return whole + (rest % 1_000_000).astype(np.float64) * 1e-6


@dataclass(frozen=True, slots=True)
class VariantIds:
    """``of_case[c]`` is case ``c``'s variant; variant ``v`` occurs ``counts[v]`` times and
    ``first_case[v]`` is its first case in log order."""

    of_case: IntArray
    first_case: IntArray
    counts: IntArray


def variant_ids(log: EventLog, enc: Encoded) -> VariantIds:
    """Exact variant ids (cached on the log): each case's code sequence packed into 32-bit words
    (``b`` bits per event, code + 1 so an empty slot differs from any activity), then words are
    numbered level by level: a case's id after word ``j`` is the rank of (its id after word
    ``j - 1``, word ``j``) among the cases that have a word ``j``. Cases sorted by word count
    descending make those an array prefix, so each level is one ``np.unique``. Two cases get the
    same final id exactly when their sequences are equal — no hashing, no collisions."""
    cache = log.cache
    if "variants" not in cache:
        cache["variants"] = _variant_ids(enc)
    found: VariantIds = cache["variants"]
    return found


def _variant_ids(enc: Encoded) -> VariantIds:
    cases = enc.cases
    if cases == 0:
        empty = np.zeros(0, dtype=np.int64)
        return VariantIds(empty, empty, empty)
    bits = len(enc.names).bit_length()
    lengths = np.diff(enc.starts)
    if int(lengths.max()) * bits <= 64:  # every case fits in one 64-bit word: one np.unique
        return _one_word_ids(enc, bits, lengths)
    per_word = max(32 // bits, 1)
    # 32-bit temporaries throughout: a slot's shift is below 32 and a word's bits are disjoint
    slot = np.arange(len(enc.codes), dtype=np.uint32)
    slot -= np.repeat(enc.starts[:-1].astype(np.uint32), lengths)
    slot %= per_word
    word_starts = np.flatnonzero(slot == 0)
    slot *= bits
    shifted = enc.codes.astype(np.uint32)
    shifted += 1
    shifted <<= slot
    del slot
    words = np.add.reduceat(shifted, word_starts).astype(np.int64)
    del shifted
    per_case = -(-lengths // per_word)
    first_word = np.concatenate(([0], np.cumsum(per_case)[:-1]))
    by_size = np.argsort(-per_case, kind="stable")
    sizes = per_case[by_size]
    firsts = first_word[by_size]
    ids = np.zeros(cases, dtype=np.int64)
    for level in range(int(sizes[0]) if sizes.size else 0):
        active = int(np.searchsorted(-sizes, -level, side="left"))
        joined = (ids[:active] << 32) | words[firsts[:active] + level]
        _, ids[:active] = np.unique(joined, return_inverse=True)
    final = sizes * (cases + 1) + ids
    _, first, inverse, counts = np.unique(final, return_index=True, return_inverse=True, return_counts=True)
    of_case = np.empty(cases, dtype=np.int64)
    of_case[by_size] = inverse
    # by_size is a stable sort, so a variant's first member in it is its first case in log order
    return VariantIds(of_case, by_size[first].astype(np.int64), counts.astype(np.int64))
