"""Publish pins: how an interrupted split publish holds the lower bound until a manifest covers it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aurora_sync.errors import TerminalError
from aurora_sync.layout import pending_key
from aurora_sync.pending import PublishPin, held_lower, remaining

T0 = datetime(2026, 11, 20, 0, tzinfo=UTC)
H = timedelta(hours=1)
PIN = PublishPin("public.orders", "e1", "r1", T0 + H, T0 + 3 * H, T0 + 3 * H)
AT = T0 + 6 * H  # when the covering export's manifest was written
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
            b'"upper": "2026-11-20T00:00:00Z", "updated_at": "2026-11-20T00:00:00Z"}',
            "lower",
        ),
        (b'{"table": "t", "export_id": "e", "run_id": "r", "updated_at": "2026-11-20T00:00:00Z"}', "upper"),
    ],
)
def test_unreadable_pin_is_a_terminal_error_naming_the_object_and_field(body: bytes, field: str) -> None:
    # GIVEN a pin truncated or with a wrong type WHEN read THEN the error names the key and the field
    with pytest.raises(TerminalError, match=rf"_pending/x/run-e\.json.*{field}"):
        PublishPin.from_json(body, "_pending/x/run-e.json")


def test_the_lowest_bound_wins_and_a_full_refresh_pin_removes_the_bound() -> None:
    assert held_lower(T0 + 2 * H, []) == T0 + 2 * H
    assert held_lower(T0 + 2 * H, [PIN]) == T0 + H
    assert held_lower(T0, [PIN]) == T0
    assert held_lower(T0 + 2 * H, [PIN, FULL]) is None
    assert held_lower(None, [PIN]) is None


@pytest.mark.parametrize(
    ("lower", "upper", "left"),
    [
        (T0 + H, T0 + 3 * H, None),  # the same window again
        (T0, T0 + 5 * H, None),  # a wider window
        (None, T0 + 3 * H, None),  # a full refresh
        (T0, T0 + 2 * H, (T0 + 2 * H, T0 + 3 * H)),  # the lower part only: narrowed
        (T0 + 2 * H, T0 + 5 * H, (T0 + H, T0 + 3 * H)),  # starts above the pin: proves nothing
        (T0, T0 + H, (T0 + H, T0 + 3 * H)),  # entirely below the pin
    ],
)
def test_what_an_export_leaves_of_a_pin(
    lower: datetime | None, upper: datetime, left: tuple[datetime, datetime] | None
) -> None:
    # GIVEN a pin on (T0+1h, T0+3h] WHEN an export of (lower, upper] is manifested
    after = remaining(PIN, lower, upper, AT)
    # THEN the pin is gone, narrowed (its clock restarted: progress was made), or untouched
    assert (None if after is None else (after.lower, after.upper)) == left
    if after is not None:
        assert after.updated_at == (PIN.updated_at if after == PIN else AT)


def test_only_a_full_export_proves_a_full_refresh_pin() -> None:
    # GIVEN a pin of an interrupted full refresh (NULL watermarks included)
    # WHEN an incremental export from the epoch covers its time range THEN it still stands
    assert remaining(FULL, datetime(1970, 1, 1, tzinfo=UTC), T0 + 5 * H, AT) == FULL
    # WHEN a full refresh is manifested THEN it is gone, or narrowed if that one stopped earlier
    assert remaining(FULL, None, T0 + 3 * H, AT) is None
    narrowed = remaining(FULL, None, T0 + 2 * H, AT)
    assert narrowed is not None and (narrowed.lower, narrowed.upper) == (T0 + 2 * H, T0 + 3 * H)
