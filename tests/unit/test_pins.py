"""Publish pins: how an interrupted split publish holds the lower bound until a manifest covers it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aurora_sync.errors import TerminalError
from aurora_sync.layout import pending_key
from aurora_sync.pins import PublishPin, Window, gaps, held_lower

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
