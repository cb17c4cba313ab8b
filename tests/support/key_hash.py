"""The key hash of delete detection (aurora_sync.deletes.keyhash) computed in Python from its
documented formula: the third witness of the cross-engine test, and what the in-memory fakes of
Aurora and FINAL answer."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aurora_sync.deletes.compare import Digest
from aurora_sync.deletes.keyhash import CHECKSUM_MODULUS


def md5_of(key: tuple[Any, ...]) -> str:
    text = "".join(f"{len(str(v))}:{v}" for v in key)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def bucket_of(key: tuple[Any, ...], count: int) -> int:
    return int(md5_of(key)[:6], 16) % count


def digests(keys: Iterable[tuple[Any, ...]], count: int) -> dict[int, Digest]:
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for key in keys:
        h = md5_of(key)
        bucket = sums[int(h[:6], 16) % count]
        bucket[0] += 1
        bucket[1] += int(h[6:21], 16)
    return {b: Digest(c, s % CHECKSUM_MODULUS) for b, (c, s) in sums.items()}


def ordered(
    keys: Iterable[tuple[Any, ...]], count: int, which: Iterable[int] | None
) -> list[tuple[int, str, Any]]:
    """(bucket, MD5, key) of the keys in `which` (None: all), ordered by bucket then MD5, as the
    adapters' key_hash_stream reads them (in any order within a bucket)."""
    wanted = None if which is None else set(which)
    rows = [(bucket_of(k, count), md5_of(k), k) for k in keys]
    return sorted(r for r in rows if wanted is None or r[0] in wanted)
