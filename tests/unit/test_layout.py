"""S3 key layout of DESIGN.md §4."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aurora_sync.layout import (
    data_key,
    manifest_hour,
    manifest_key,
    manifest_listing,
    temp_key,
    temp_part_number,
)

AT = datetime(2026, 11, 20, 7, 59, tzinfo=UTC)


def test_data_and_manifest_keys_follow_the_contract() -> None:
    assert data_key("public.orders", AT, "abc") == "public.orders/2026/11/20/07/run-abc.csv"
    assert data_key("public.orders", AT, "abc", 3) == "public.orders/2026/11/20/07/run-abc_part3.csv"
    assert manifest_key("public.orders", AT, "abc") == "_manifests/public.orders/2026/11/20/07/run-abc.json"


def test_aurora_part_names_are_recognised_and_nothing_else() -> None:
    base = temp_key("_incoming/", "public.orders", "abc")
    assert base == "_incoming/public.orders/run-abc.csv"
    assert temp_part_number(base, base) == 1
    assert temp_part_number(base, base + "_part2") == 2
    assert temp_part_number(base, base + "_part1") is None
    assert temp_part_number(base, base + "_partx") is None
    assert temp_part_number(base, base + ".bak") is None


def test_one_listing_finds_the_manifests_from_an_hour_on() -> None:
    # GIVEN manifests of the hour before, the hour of `since` and a later one
    keys = [manifest_key("public.orders", AT + timedelta(hours=h), "abc") for h in (-1, 0, 5)]
    # WHEN listed from since's hour (ListObjectsV2: keys after StartAfter, in order)
    prefix, start_after = manifest_listing("public.orders", AT)
    listed = [k for k in sorted(keys) if k.startswith(prefix) and k > start_after]
    # THEN the hour of `since` and later are listed, the hour before is not
    assert listed == keys[1:]
    assert [manifest_hour(k, prefix) for k in listed] == ["2026/11/20/07", "2026/11/20/12"]
