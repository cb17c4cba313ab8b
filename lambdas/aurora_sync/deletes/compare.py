"""The pure decisions of a detection pass: which buckets differ, which keys are deletes, and whether
a pass may apply them. No I/O: the pass (and its tests) feed it what both databases returned."""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import TypeVar

from aurora_sync.timeutil import as_utc

_Row = TypeVar("_Row")
_BUCKET = itemgetter(0)

Key = tuple[Hashable, ...]  # primary-key values in config order, as adapters normalize them
AuroraBucket = tuple[int, frozenset[str]]  # (bucket, MD5s of its keys' text): all a stream needs of Aurora
FinalHash = tuple[int, str, Key, datetime | None]  # (bucket, MD5, key, watermark) of a FINAL row


@dataclass(frozen=True)
class Digest:
    """One bucket on one side: how many keys it holds and the sum of their checksums."""

    count: int
    checksum: int


EMPTY = Digest(0, 0)


def differing_buckets(aurora: Mapping[int, Digest], final: Mapping[int, Digest]) -> list[int]:
    """Buckets whose keys are not the same on both sides (a bucket one side lacks counts as empty),
    in order: only these are read key by key."""
    return sorted(b for b in aurora.keys() | final.keys() if aurora.get(b, EMPTY) != final.get(b, EMPTY))


def surplus_at_least(aurora: Mapping[int, Digest], final: Mapping[int, Digest]) -> int:
    """A lower bound, from the counts alone, of the keys FINAL holds that Aurora does not: in each
    bucket FINAL has at least its count minus Aurora's. Lets the guard stop a bulk delete before
    any key is read."""
    return sum(max(0, d.count - aurora.get(b, EMPTY).count) for b, d in final.items())


def delete_limit(final_rows: int, fraction: float) -> int:
    """The most keys one pass may delete: `fraction` of FINAL, rounded down, but at least one, so a
    small table can still lose a row (max_delete_fraction 0.01 of 50 rows would otherwise be 0)."""
    return max(1, math.floor(final_rows * fraction))


@dataclass(frozen=True)
class Candidates:
    """Keys of FINAL that Aurora does not have. `deletes`: unchanged since the cutoff, to be
    deleted. `recent`: changed after it (maybe inserted after Aurora's read and merged already),
    left for a later pass."""

    deletes: list[Key]
    recent: list[Key]


def candidates(
    aurora_keys: Iterable[Key], final_rows: Iterable[tuple[Key, datetime | None]], cutoff: datetime
) -> Candidates:
    """Compare the keys of the differing buckets. A FINAL row whose watermark is NULL (only a full
    refresh loads those) cannot be newer than anything, so it counts as unchanged. Keys Aurora has
    and FINAL lacks are not deletes (the pipeline lags) and are ignored."""
    present = set(aurora_keys)
    limit = as_utc(cutoff)
    deletes: list[Key] = []
    recent: list[Key] = []
    for key, watermark in final_rows:
        if key in present:
            continue
        if watermark is None or as_utc(watermark) <= limit:
            deletes.append(key)
        else:
            recent.append(key)
    return Candidates(sorted(deletes), sorted(recent))


@dataclass(frozen=True)
class Streamed:
    """What stream_candidates found: the deletes (sorted; the first limit + 1 when `over_limit`),
    how many FINAL-only keys were too recent, and whether the limit stopped the compare early."""

    deletes: list[Key]
    recent: int
    over_limit: bool
    buckets: int  # buckets compared


def stream_candidates(
    aurora: Iterable[AuroraBucket],
    final: Iterable[FinalHash],
    cutoff: datetime,
    limit: int,
    only: Container[int] | None = None,
) -> Streamed:
    """`candidates` for the wide case: Aurora's buckets (each with its keys' MD5s) and FINAL's rows
    arrive ordered by bucket and are compared a bucket at a time (a merge join on the bucket), so
    memory holds one bucket of each side, never the table. Within a bucket, keys match by MD5 (the
    hash both sides compute of the same key text). `only`: the buckets to compare (a stream read
    without a filter also carries equal ones). Stops as soon as the deletes exceed `limit`: the
    rest cannot bring them back under."""
    threshold = as_utc(cutoff)
    aurora_buckets = _aurora_sets(aurora, only)
    present: tuple[int, frozenset[str]] | None = next(aurora_buckets, None)
    deletes: list[Key] = []
    recent = compared = 0
    for bucket, rows in _ordered(final, _BUCKET, "FINAL"):
        if only is not None and bucket not in only:
            continue
        compared += 1
        while present is not None and present[0] < bucket:
            present = next(aurora_buckets, None)
        hashes = present[1] if present is not None and present[0] == bucket else frozenset()
        for _, md5, key, watermark in rows:
            if md5 in hashes:
                continue
            if watermark is None or as_utc(watermark) <= threshold:
                deletes.append(key)
            else:
                recent += 1
        if len(deletes) > limit:
            return Streamed(sorted(deletes), recent, True, compared)
    return Streamed(sorted(deletes), recent, False, compared)


def _aurora_sets(
    buckets: Iterable[AuroraBucket], only: Container[int] | None
) -> Iterator[tuple[int, frozenset[str]]]:
    """Aurora's buckets, each once, in ascending order, those outside `only` left out. The merge
    takes a FINAL bucket below Aurora's current one as empty in Aurora, trusting the order, so a
    bucket is handed on only once the next one has been read and checked to come after it."""
    previous = -1
    pending: tuple[int, frozenset[str]] | None = None
    for bucket, hashes in buckets:
        if bucket <= previous:
            raise ValueError(f"Aurora's key stream is not ordered by bucket: {bucket} after {previous}")
        if pending is not None:
            yield pending
        pending, previous = (bucket, hashes), bucket
        if only is not None and bucket not in only:
            pending = None
    if pending is not None:
        yield pending


def _ordered(
    rows: Iterable[_Row], bucket_of: Callable[[_Row], int], side: str
) -> Iterator[tuple[int, list[_Row]]]:
    """Consecutive rows of one bucket (itertools.groupby: the per-row work stays in C), checking the
    buckets ascend: a stream out of order would make keys of one bucket look missing from the other
    side, that is, make false deletes. A bucket is handed on only once the next one has been read
    and checked, so the compare never acts on a bucket that a later row would prove out of order
    (the merge skips past Aurora's bucket only by trusting that order)."""
    previous = -1
    pending: tuple[int, list[_Row]] | None = None
    for bucket, group in groupby(rows, bucket_of):
        if bucket <= previous:
            raise ValueError(f"{side}'s key stream is not ordered by bucket: {bucket} after {previous}")
        if pending is not None:
            yield pending
        pending, previous = (bucket, list(group)), bucket
    if pending is not None:
        yield pending
