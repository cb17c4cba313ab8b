"""The pure decisions of a detection pass (aurora_sync.deletes.compare)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aurora_sync.deletes.compare import (
    AuroraBucket,
    Digest,
    FinalHash,
    Key,
    candidates,
    delete_limit,
    differing_buckets,
    stream_candidates,
    surplus_at_least,
)
from tests.support import key_hash

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


# -- the wide case: both sides streamed in bucket order (stream_candidates) ---------------------------


def streams(
    aurora_keys: list[Key], final_rows: dict[Key, datetime | None], count: int
) -> tuple[list[AuroraBucket], list[FinalHash]]:
    """Both sides as the adapters stream them: ordered by bucket, hashed as both databases hash;
    Aurora's a bucket at a time with its MD5s, FINAL's a row per key."""
    by_bucket: dict[int, set[str]] = {}
    for b, h, _ in key_hash.ordered(aurora_keys, count, None):
        by_bucket.setdefault(b, set()).add(h)
    aurora = [(b, frozenset(hs)) for b, hs in sorted(by_bucket.items())]
    final = [(b, h, k, final_rows[k]) for b, h, k in key_hash.ordered(final_rows, count, None)]
    return aurora, final


def test_a_streamed_compare_finds_the_keys_only_final_has_and_ignores_those_only_aurora_has() -> None:
    # GIVEN 40 keys in 4 buckets on both sides, less 3 gone from Aurora and 2 not yet in FINAL
    both = [(i,) for i in range(40)]
    aurora, final = streams(
        [*[k for k in both if k not in {(3,), (17,), (38,)}], (100,), (101,)], dict.fromkeys(both, T), 4
    )
    # WHEN compared a bucket at a time
    found = stream_candidates(aurora, final, T, limit=10)
    # THEN exactly the three are deletes; Aurora's extra keys (the pipeline lags) are not
    assert (found.deletes, found.recent, found.over_limit, found.buckets) == (
        [(3,), (17,), (38,)],
        0,
        False,
        4,
    )


def test_a_bucket_one_side_lacks_counts_as_empty() -> None:
    # GIVEN FINAL's keys where Aurora's stream is empty, and the reverse
    _, final = streams([], {(1,): T, (2,): T}, 8)
    aurora, _ = streams([(1,), (2,)], {}, 8)
    # THEN everything in FINAL is a delete when Aurora has nothing; nothing when FINAL has nothing
    assert stream_candidates([], final, T, limit=5).deletes == [(1,), (2,)]
    assert stream_candidates(aurora, [], T, limit=5) == stream_candidates([], [], T, limit=5)
    assert stream_candidates([], [], T, limit=5).deletes == []


def test_a_streamed_key_changed_after_the_cutoff_waits_and_one_without_watermark_is_old() -> None:
    # GIVEN keys gone from Aurora: before, at and after the cutoff, NULL, and naive UTC
    rows: dict[Key, datetime | None] = {
        (1,): T - timedelta(hours=1),
        (2,): T,
        (3,): T + timedelta(seconds=1),
        (4,): None,
        (5,): datetime(2026, 11, 20, 9, 0),
        (6,): datetime(2026, 11, 20, 10, 0, 1),
    }
    _, final = streams([], rows, 3)
    found = stream_candidates([], final, T, limit=100)
    # THEN the recent ones (3 and 6) are counted, not deleted
    assert (found.deletes, found.recent) == ([(1,), (2,), (4,), (5,)], 2)


def test_a_streamed_compare_agrees_with_the_batch_compare_on_random_tables() -> None:
    rng = random.Random(15)
    for _ in range(20):
        # GIVEN random tables: FINAL with random watermarks, Aurora missing some keys and holding new ones
        keys = [(rng.randrange(10_000), rng.choice("abc")) for _ in range(rng.randrange(0, 300))]
        final_rows: dict[Key, datetime | None] = {
            k: rng.choice([None, T - timedelta(minutes=5), T + timedelta(minutes=5)]) for k in keys
        }
        aurora_keys = [k for k in final_rows if rng.random() > 0.2] + [(20_000 + i, "n") for i in range(5)]
        aurora, final = streams(aurora_keys, final_rows, rng.randrange(1, 40))
        # WHEN compared streamed and as one batch THEN the same keys are deletes and recent
        streamed = stream_candidates(aurora, final, T, limit=len(final_rows))
        batch = candidates(aurora_keys, final_rows.items(), T)
        assert streamed.deletes == batch.deletes and streamed.recent == len(batch.recent)
        assert not streamed.over_limit


def test_a_streamed_compare_stops_reading_once_the_deletes_exceed_the_limit() -> None:
    # GIVEN 1,000 keys in 100 buckets, all gone from Aurora, and a limit of 10
    _, final = streams([], {(i,): T for i in range(1000)}, 100)
    consumed: list[FinalHash] = []

    def reading() -> Iterator[FinalHash]:
        for row in final:
            consumed.append(row)
            yield row

    # WHEN compared
    found = stream_candidates([], reading(), T, limit=10)
    # THEN it stops after the bucket that went over (11+ deletes): it read those buckets and the
    # next one (a bucket is compared once the next has been read and its order checked), not the 100
    assert found.over_limit and len(found.deletes) > 10
    assert found.buckets < 100 and len({b for b, *_ in consumed}) == found.buckets + 1


def test_buckets_outside_only_are_skipped_on_both_sides() -> None:
    # GIVEN a stream of every bucket (no filter), FINAL with an extra key in bucket b only
    rows = {(i,): T for i in range(50)}
    extra = (999,)
    b = key_hash.bucket_of(extra, 5)
    aurora, final = streams(list(rows), {**rows, extra: T}, 5)
    # WHEN only bucket b is compared THEN its key is found; when b is left out, nothing is
    assert stream_candidates(aurora, final, T, limit=5, only={b}).deletes == [extra]
    assert stream_candidates(aurora, final, T, limit=5, only={(b + 1) % 5}).deletes == []


@pytest.mark.parametrize("side", ["Aurora", "FINAL"])
def test_a_stream_out_of_bucket_order_is_refused_not_turned_into_deletes(side: str) -> None:
    # GIVEN the same keys on both sides, one side's stream out of bucket order
    aurora, final = streams([(i,) for i in range(30)], {(i,): T for i in range(30)}, 3)
    if side == "Aurora":
        aurora = aurora[::-1]
    else:
        final = final[::-1]
    # WHEN compared THEN it fails, naming the side, instead of calling keys missing
    with pytest.raises(ValueError, match=f"{side}'s key stream is not ordered by bucket"):
        stream_candidates(aurora, final, T, limit=100)
