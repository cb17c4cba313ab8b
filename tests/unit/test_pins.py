"""Publish pins: how an interrupted split publish holds the lower bound until a manifest covers it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aurora_sync.errors import TerminalError, TransientError
from aurora_sync.layout import manifest_key, pending_key
from aurora_sync.manifest import Manifest
from aurora_sync.pins import PublishPin, PublishPins, Window, gaps, held_lower
from tests.support.memory import MemoryStore

T0 = datetime(2026, 11, 20, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
PIN = PublishPin("public.orders", "e1", "r1", T0 + H, T0 + 3 * H, T0 + 3 * H)
FULL = PublishPin("public.orders", "e2", "r2", None, T0 + 3 * H, T0 + 3 * H)


def test_pin_key_and_json_round_trip() -> None:
    assert pending_key("public.orders", "e1") == "_pending/public.orders/run-e1.json"
    for pin in (PIN, FULL):
        assert PublishPin.from_json(pin.to_json().encode(), "k") == pin


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"table": "public.orders", "export_id": "e1", "run_id": "r1", "lower": null', "not JSON"),
        (b"[]", "JSON object"),
        (b'{"table": 1, "export_id": "e1", "run_id": "r1"}', "table"),
        (
            b'{"table": "t", "export_id": "e", "run_id": "r", "lower": "yesterday", '
            b'"upper": "2026-11-20T00:00:00Z", "created_at": "2026-11-20T00:00:00Z"}',
            "lower",
        ),
        (b'{"table": "t", "export_id": "e", "run_id": "r", "created_at": "2026-11-20T00:00:00Z"}', "upper"),
    ],
)
def test_unreadable_pin_is_a_terminal_error_naming_the_object_and_field(body: bytes, field: str) -> None:
    # GIVEN a pin truncated or with a wrong type WHEN read THEN the error names the key and the field
    with pytest.raises(TerminalError, match=rf"_pending/x/run-e\.json.*{field}"):
        PublishPin.from_json(body, "_pending/x/run-e.json")


def test_the_lowest_bound_wins_and_an_unbounded_gap_removes_the_bound() -> None:
    assert held_lower(T0 + 2 * H, []) == T0 + 2 * H
    assert held_lower(T0 + 2 * H, [PIN.window]) == T0 + H
    assert held_lower(T0, [PIN.window]) == T0
    assert held_lower(T0 + 2 * H, [PIN.window, FULL.window]) is None
    assert held_lower(None, [PIN.window]) is None
    # the table's lookback applies below a gap as below FINAL's watermark
    assert held_lower(T0 + 2 * H, [PIN.window], timedelta(seconds=300)) == T0 + H - timedelta(seconds=300)


@pytest.mark.parametrize(
    ("covered", "left"),
    [
        ([], [(T0 + H, T0 + 3 * H)]),
        ([(T0 + H, T0 + 3 * H)], []),  # the same window again
        ([(T0, T0 + 5 * H)], []),  # a wider window
        ([(None, T0 + 3 * H)], []),  # a full refresh
        ([(T0, T0 + 2 * H)], [(T0 + 2 * H, T0 + 3 * H)]),  # the lower part only
        ([(T0 + 2 * H, T0 + 5 * H)], [(T0 + H, T0 + 2 * H)]),  # the upper part only
        ([(T0, T0 + H)], [(T0 + H, T0 + 3 * H)]),  # entirely below: touches nothing
        ([(T0 + 3 * H, T0 + 4 * H)], [(T0 + H, T0 + 3 * H)]),  # entirely above
        ([(T0 + 90 * M, T0 + 2 * H)], [(T0 + H, T0 + 90 * M), (T0 + 2 * H, T0 + 3 * H)]),  # a hole
    ],
)
def test_gaps_are_what_no_manifested_window_covers(covered: list[Window], left: list[Window]) -> None:
    # GIVEN a pin on (T0+1h, T0+3h] WHEN manifests cover `covered` THEN exactly `left` is unproven
    assert gaps(PIN.window, covered) == left


def test_split_sub_windows_cover_the_pin_in_any_order_and_a_failed_one_stays_a_gap() -> None:
    # GIVEN a split window cut into four contiguous sub-windows
    edges = [T0 + H + i * 30 * M for i in range(5)]
    parts = [(edges[i], edges[i + 1]) for i in range(4)]
    # WHEN all are manifested, in whatever order they finished THEN nothing is left
    assert (
        gaps(PIN.window, parts[::-1]) == []
        and gaps(PIN.window, [parts[2], parts[0], parts[3], parts[1]]) == []
    )
    # WHEN the second failed THEN exactly its window is left, and the next lower bound is its start
    left = gaps(PIN.window, [parts[3], parts[0], parts[2]])
    assert left == [parts[1]] and held_lower(T0 + 3 * H, left) == parts[1][0]


def test_only_a_full_export_covers_a_full_refresh_pin() -> None:
    # GIVEN a pin of an interrupted full refresh (NULL watermarks included)
    # WHEN an incremental export from the epoch covers its time range THEN the unbounded start stays
    assert gaps(FULL.window, [(datetime(1970, 1, 1, tzinfo=UTC), T0 + 5 * H)]) == [
        (None, datetime(1970, 1, 1, tzinfo=UTC))
    ]
    # WHEN a full refresh is manifested THEN it is covered, or covered up to where that one stopped
    assert gaps(FULL.window, [(None, T0 + 3 * H)]) == []
    assert gaps(FULL.window, [(None, T0 + 2 * H)]) == [(T0 + 2 * H, T0 + 3 * H)]


# -- PublishPins: the exporter's bookkeeping on an in-memory bucket ---------------------------------


def manifest(store: MemoryStore, export_id: str, lower: datetime | None, upper: datetime) -> None:
    """A manifest proving (lower, upper] exported, under its upper bound's hour."""
    doc = Manifest(
        run_id="r",
        export_id=export_id,
        table="public.orders",
        files=[],
        rows=0,
        lower=None if lower is None else lower.isoformat(),
        upper=upper.isoformat(),
        mode="aurora_s3",
        started_at=upper.isoformat(),
        finished_at=upper.isoformat(),
        query_sha256="0" * 64,
    )
    store.put_json(manifest_key("public.orders", upper, export_id), doc.to_json())


def pinned(pin: PublishPin, *manifested: Window) -> MemoryStore:
    """A bucket holding `pin`, and a manifest for each window in `manifested`."""
    store = MemoryStore()
    store.put_json(pin.key, pin.to_json())
    for n, (lower, upper) in enumerate(manifested):
        manifest(store, f"m{n}", lower, upper)
    return store


def bookkeeping(store: MemoryStore) -> PublishPins:
    return PublishPins(store, "r9", lambda: T0 + 4 * H)


def test_a_pin_no_manifest_covers_holds_the_lower_bound_at_its_gap_less_the_lookback() -> None:
    # GIVEN a pin on (T0+1h, T0+3h] and a manifest for its upper hour only
    pins = bookkeeping(pinned(PIN, (T0 + 2 * H, T0 + 3 * H)))
    # WHEN an incremental window would start at T0+3h
    held = pins.hold("public.orders", T0 + 3 * H, timedelta(seconds=300))
    # THEN it starts at the gap (T0+1h, T0+2h], less the lookback; the pin stays
    assert held == T0 + H - timedelta(seconds=300)
    assert pins.open_gaps("public.orders") == [(T0 + H, T0 + 2 * H)]


def test_a_pin_is_dropped_once_manifests_cover_it_and_kept_when_the_delete_fails() -> None:
    # GIVEN a pin whose window two manifests cover
    store = pinned(PIN, (T0, T0 + 2 * H), (T0 + 2 * H, T0 + 3 * H))
    # WHEN its gaps are computed THEN there are none, and the pin is deleted
    assert bookkeeping(store).open_gaps("public.orders") == [] and PIN.key not in store.objects
    # GIVEN the same, but S3 refuses the delete
    failing = pinned(PIN, (T0, T0 + 3 * H))
    failing.fail_on["delete"] = TransientError("s3:DeleteObjects: throttled")
    # WHEN its gaps are computed THEN there are still none, and the pin stays for the next run
    assert bookkeeping(failing).open_gaps("public.orders") == [] and PIN.key in failing.objects


def test_an_unreadable_pin_stops_the_incremental_bound() -> None:
    store = pinned(PIN)
    store.objects[pending_key("public.orders", "bad")] = b"{"
    with pytest.raises(TerminalError, match=r"run-bad\.json is not JSON"):
        bookkeeping(store).hold("public.orders", T0, timedelta(0))


def test_after_its_manifest_an_export_drops_its_own_pin_and_re_checks_those_it_was_held_at() -> None:
    # GIVEN a run held its lower bound at an older pin's gap
    store = pinned(PIN)
    pins = bookkeeping(store)
    assert pins.hold("public.orders", T0 + 3 * H, timedelta(0)) == T0 + H
    # WHEN its own split publish, pinned, is manifested over both windows
    own = pins.new("public.orders", "e9", T0 + H, T0 + 4 * H)
    pins.write(own)
    manifest(store, "e9", T0 + H, T0 + 4 * H)
    pins.manifested("public.orders", own)
    # THEN both pins are gone
    assert store.keys("_pending/") == []


def test_a_failed_re_check_after_the_manifest_does_not_fail_the_export() -> None:
    store = pinned(PIN)
    pins = bookkeeping(store)
    pins.hold("public.orders", T0 + 3 * H, timedelta(0))
    store.fail_on["sizes"] = TransientError("s3:ListObjectsV2: throttled")
    pins.manifested("public.orders", None)  # logged, not raised: the next run re-checks
    assert PIN.key in store.objects
