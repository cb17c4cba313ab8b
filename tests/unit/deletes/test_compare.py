"""The pure decisions of a detection pass (aurora_sync.deletes.compare)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aurora_sync.deletes.compare import (
    Digest,
    candidates,
    delete_limit,
    differing_buckets,
    surplus_at_least,
)

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_only_buckets_whose_count_or_checksum_differ_are_read() -> None:
    # GIVEN bucket 0 equal, 1 with another checksum, 2 with another count, 3 only in FINAL, 4 only in Aurora
    aurora = {0: Digest(3, 10), 1: Digest(2, 5), 2: Digest(4, 9), 4: Digest(1, 1)}
    final = {0: Digest(3, 10), 1: Digest(2, 6), 2: Digest(5, 9), 3: Digest(1, 7)}
    # WHEN compared THEN every bucket but 0 differs, in order (a missing bucket is an empty one)
    assert differing_buckets(aurora, final) == [1, 2, 3, 4]
    assert differing_buckets(final, final) == []


def test_the_counts_alone_bound_the_keys_final_has_that_aurora_lacks() -> None:
    # GIVEN FINAL with 2 more keys in bucket 1, 1 in bucket 3 (absent in Aurora), and 1 fewer in bucket 0
    aurora = {0: Digest(4, 1), 1: Digest(3, 1)}
    final = {0: Digest(3, 1), 1: Digest(5, 1), 3: Digest(1, 1)}
    # THEN at least 3 keys are in FINAL only: Aurora's extra key in bucket 0 does not offset them
    assert surplus_at_least(aurora, final) == 3


@pytest.mark.parametrize(
    ("rows", "fraction", "limit"),
    [(10_000_000, 0.01, 100_000), (1_000, 0.01, 10), (50, 0.01, 1), (0, 0.01, 1), (99, 1.0, 99)],
)
def test_a_pass_may_delete_a_fraction_of_final_and_at_least_one_row(
    rows: int, fraction: float, limit: int
) -> None:
    assert delete_limit(rows, fraction) == limit


def test_a_key_in_final_only_is_a_delete_unless_its_row_changed_after_the_cutoff() -> None:
    # GIVEN Aurora's keys of the differing buckets, and FINAL's with their watermarks
    aurora = [(1,), (2,), (5,)]
    final = [
        ((1,), T - timedelta(days=1)),  # in both: kept
        ((3,), T - timedelta(hours=1)),  # gone from Aurora, unchanged since before the cutoff
        ((4,), T),  # exactly at the cutoff
        ((6,), T + timedelta(seconds=1)),  # changed after it: maybe inserted after Aurora's read
        ((7,), None),  # no watermark (a full refresh loaded it): nothing can be older
        ((8,), datetime(2026, 11, 20, 9, 0)),  # naive = UTC, as TIMESTAMP_NTZ comes back
    ]
    # WHEN compared at the cutoff
    found = candidates(aurora, final, T)
    # THEN 3, 4, 7 and 8 are deletes, 6 waits for a later pass, 5 (Aurora only: the pipeline lags) is ignored
    assert found.deletes == [(3,), (4,), (7,), (8,)]
    assert found.recent == [(6,)]


def test_composite_keys_compare_as_tuples() -> None:
    found = candidates([(1, "a")], [((1, "a"), T), ((1, "b"), T)], T)
    assert (found.deletes, found.recent) == ([(1, "b")], [])
