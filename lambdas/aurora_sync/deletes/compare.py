"""The pure decisions of a detection pass: which buckets differ, which keys are deletes, and whether
a pass may apply them. No I/O: the pass (and its tests) feed it what both databases returned."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from aurora_sync.timeutil import as_utc

Key = tuple[Hashable, ...]  # primary-key values in config order, as adapters normalize them


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
